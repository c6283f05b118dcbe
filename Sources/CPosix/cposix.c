#define _GNU_SOURCE
#include "cposix.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

static sigset_t ignored_signals;
static int ignored_signals_known = 0;

void jq_spawn_note_ignored_signals(void) {
    sigemptyset(&ignored_signals);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction action;
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        if (sigaction(sig, NULL, &action) == 0 && action.sa_handler == SIG_IGN) sigaddset(&ignored_signals, sig);
    }
    ignored_signals_known = 1;
}

void jq_malloc_keep_freed(int bytes) {
    mallopt(M_TRIM_THRESHOLD, bytes);
    mallopt(M_MMAP_THRESHOLD, bytes);
}

int jq_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
             const char *cwd, int stdout_fd, int stderr_fd, const int *extra_fds, int extra_count) {
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    sigset_t all, none;
    int rc, high[16];

    if (extra_count < 0 || extra_count > 16) return EINVAL;
    // Move the descriptors out of the way first, so that dup2-ing them to 3, 4, … in order
    // cannot overwrite one that is still to be copied.
    for (int i = 0; i < extra_count; i++) {
        high[i] = fcntl(extra_fds[i], F_DUPFD_CLOEXEC, 64);
        if (high[i] < 0) {
            rc = errno;
            while (i-- > 0) close(high[i]);
            return rc;
        }
    }
    if ((rc = posix_spawnattr_init(&attr)) != 0) goto close_high;
    if ((rc = posix_spawn_file_actions_init(&actions)) != 0) {
        posix_spawnattr_destroy(&attr);
        goto close_high;
    }
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    sigemptyset(&none);
    rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, ignored_signals_known ? &ignored_signals : &all);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &none);
    if (rc == 0) rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
    for (int i = 0; rc == 0 && i < extra_count; i++) rc = posix_spawn_file_actions_adddup2(&actions, high[i], 3 + i);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3 + extra_count);
    if (rc == 0 && cwd != NULL) rc = posix_spawn_file_actions_addchdir_np(&actions, cwd);
    if (rc == 0) rc = posix_spawn(pid, path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
close_high:
    for (int i = 0; i < extra_count; i++) close(high[i]);
    return rc;
}

int jq_wifexited(int status) { return WIFEXITED(status); }
int jq_wexitstatus(int status) { return WEXITSTATUS(status); }
int jq_wifsignaled(int status) { return WIFSIGNALED(status); }
int jq_wtermsig(int status) { return WTERMSIG(status); }

int jq_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int jq_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int jq_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int jq_signalfd(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static struct flock whole_file(short type) {
    struct flock lock;
    memset(&lock, 0, sizeof lock);
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0;
    return lock;
}

int jq_lock_exclusive(int fd, int wait) {
    struct flock lock = whole_file(F_WRLCK);
    for (;;) {
        if (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &lock) == 0) return 0;
        if (errno == EINTR) continue;
        return (errno == EACCES) ? EAGAIN : errno;
    }
}

int jq_lock_is_held(int fd) {
    struct flock lock = whole_file(F_WRLCK);
    if (fcntl(fd, F_OFD_GETLK, &lock) != 0) return -errno;
    return lock.l_type != F_UNLCK;
}

int jq_set_lease(int fd, int type) { return fcntl(fd, F_SETLEASE, type) == 0 ? 0 : errno; }

int jq_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return errno;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 ? 0 : errno;
}

int jq_set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return errno;
    return fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0 ? 0 : errno;
}

#include <sys/ioctl.h>

int jq_terminal_width(int fd) {
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) != 0) return 0;
    return size.ws_col;
}

int jq_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int jq_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno; }

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/time.h>

static int unix_address(const char *path, struct sockaddr_un *address) {
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address->sun_path) return -ENAMETOOLONG;
    strcpy(address->sun_path, path);
    return 0;
}

int jq_unix_listen(const char *path) {
    struct sockaddr_un address;
    int rc = unix_address(path, &address);
    if (rc < 0) return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 128) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int jq_unix_connect(const char *path) {
    struct sockaddr_un address;
    int rc = unix_address(path, &address);
    if (rc < 0) return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int jq_unix_accept(int listener) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

long jq_peer_uid(int fd) {
    struct ucred credentials;
    socklen_t size = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) return -1;
    return (long)credentials.uid;
}

int jq_socket_timeout(int fd, int milliseconds) {
    struct timeval timeout = { milliseconds / 1000, (milliseconds % 1000) * 1000 };
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) return errno;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0) return errno;
    return 0;
}
