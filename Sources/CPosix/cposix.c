#define _GNU_SOURCE
#include "cposix.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <stdlib.h>
#include <malloc.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* Signals that are not at their default disposition in this process — ignored or caught —
 * as raw kernel masks (bit n-1 for signal n), read from /proc/self/status: unlike sigaction(),
 * it also reports glibc's reserved signals (32, 33), which a job must not inherit ignored. */
static unsigned long long reset_signals = ~0ULL;

static unsigned long long status_mask(const char *status, const char *field) {
    const char *line = strstr(status, field);
    return line ? strtoull(line + strlen(field), NULL, 16) : 0;
}

void jq_spawn_note_ignored_signals(void) {
    char status[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, status, sizeof status - 1);
    close(fd);
    if (n <= 0) return;
    status[n] = 0;
    reset_signals = status_mask(status, "SigIgn:") | status_mask(status, "SigCgt:");
}

void jq_malloc_release_free(void) { malloc_trim(0); }

void jq_malloc_keep_freed(int bytes) {
    mallopt(M_TRIM_THRESHOLD, bytes);
    mallopt(M_MMAP_THRESHOLD, bytes);
}

/* Only the executable's segments that hold exactly the file's bytes, and nothing the process
 * wrote: read-only (RELRO, written once at start, sits in a writable segment), no zero-filled
 * tail (p_memsz > p_filesz), and no text relocations in the object (which patch code after it
 * is mapped). Dropping such a page loses nothing: the next use maps the file's page again.
 * Rounded inwards, so that a page shared with a neighbouring writable segment is kept. (A
 * debugger's breakpoints live in private copies of code pages, and are dropped with them.) */
static int has_text_relocations(const struct dl_phdr_info *info) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC) continue;
        const ElfW(Dyn) *entry = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
        for (; entry->d_tag != DT_NULL; entry++) {
            if (entry->d_tag == DT_TEXTREL) return 1;
            if (entry->d_tag == DT_FLAGS && (entry->d_un.d_val & DF_TEXTREL)) return 1;
        }
    }
    return 0;
}

static int release_read_only_segments(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    if (has_text_relocations(info)) return 1;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD || (segment->p_flags & PF_W) || segment->p_memsz != segment->p_filesz) continue;
        uintptr_t start = (info->dlpi_addr + segment->p_vaddr + page - 1) & ~(page - 1);
        uintptr_t end = (info->dlpi_addr + segment->p_vaddr + segment->p_memsz) & ~(page - 1);
        if (end > start) madvise((void *)start, end - start, MADV_DONTNEED);
    }
    return 1; /* the first object listed is the executable itself */
}

void jq_release_code_pages(void) { dl_iterate_phdr(release_read_only_segments, NULL); }

/* The kernel's own sigaction layout (x86_64 and aarch64), for raw rt_sigaction calls. */
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long long mask;
};

int jq_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
             const char *cwd, int stdout_fd, int stderr_fd, const int *extra_fds, int extra_count,
             int die_with_parent) {
    int high[16];
    if (extra_count < 0 || extra_count > 16) return EINVAL;
    // Move the descriptors out of the way first, so that dup2-ing them to 3, 4, … in order
    // cannot overwrite one that is still to be copied.
    for (int i = 0; i < extra_count; i++) {
        high[i] = fcntl(extra_fds[i], F_DUPFD_CLOEXEC, 64);
        if (high[i] < 0) {
            int rc = errno;
            while (i-- > 0) close(high[i]);
            return rc;
        }
    }
    // vfork: the child borrows our memory until it execs, so it may only make system calls,
    // and no signal handler of ours may run in it: every signal is blocked across the call.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    volatile int child_error = 0;
    pid_t child = vfork();
    if (child == 0) {
        unsigned long long none = 0;
        struct kernel_sigaction default_action = { SIG_DFL, 0, NULL, 0 };
        for (int sig = 1; sig <= 64; sig++) {
            if (sig == SIGKILL || sig == SIGSTOP || !(reset_signals & (1ULL << (sig - 1)))) continue;
            syscall(SYS_rt_sigaction, sig, &default_action, NULL, sizeof(unsigned long long));
        }
        if (setsid() < 0) { child_error = errno; _exit(127); }
        if (die_with_parent) syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) {
            child_error = errno;
            _exit(127);
        }
        for (int i = 0; i < extra_count; i++) {
            if (dup2(high[i], 3 + i) < 0) { child_error = errno; _exit(127); }
        }
        syscall(SYS_close_range, 3 + extra_count, ~0U, 0);
        if (cwd != NULL && chdir(cwd) != 0) { child_error = errno; _exit(127); }
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
        execve(path, argv, envp);
        child_error = errno;
        _exit(127);
    }
    int rc = child < 0 ? errno : child_error;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    for (int i = 0; i < extra_count; i++) close(high[i]);
    if (child > 0 && rc != 0) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    }
    if (rc == 0) *pid = child;
    return rc;
}


/* A job's spawn that does not wait for its exec (jq_spawn_detached). The child shares our memory
 * until it execs, like vfork's, but we go on meanwhile: so it runs on a stack of its own (the
 * caller's block), touches nothing of ours but that block and the strings the block points to
 * (which the caller keeps until the exec is reported), and makes raw system calls only — libc's
 * wrappers would set errno, which is the calling thread's. It reports a failure's errno through
 * a close-on-exec pipe; an exec that succeeds closes the pipe. */
#if defined(__x86_64__) || defined(__aarch64__)
__attribute__((no_sanitize("address", "undefined", "thread", "memory")))
static inline long raw_syscall(long n, long a, long b, long c, long d) {
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return ret;
#else
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#endif
}

struct detached_exec {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int stdout_fd, stderr_fd, report_fd, die_with_parent;
    pid_t parent;
};

/* Not instrumented by a sanitizer: it runs on the caller's block, not a stack the sanitizer knows. */
__attribute__((no_sanitize("address", "undefined", "thread", "memory")))
static int detached_exec_child(void *arg) {
    struct detached_exec *e = arg;
    long rc;
    int step = JQ_DETACHED_STEP_START;
    /* First: should the supervisor die from here on, so does the job — and if it died already
     * (it does not wait for us), the job never runs. */
    if (e->die_with_parent) {
        raw_syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0);
        if (raw_syscall(SYS_getppid, 0, 0, 0, 0) != e->parent) raw_syscall(SYS_exit_group, 127, 0, 0, 0);
    }
    struct kernel_sigaction default_action = { SIG_DFL, 0, NULL, 0 };
    for (int sig = 1; sig <= 64; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || !(reset_signals & (1ULL << (sig - 1)))) continue;
        raw_syscall(SYS_rt_sigaction, sig, (long)&default_action, 0, sizeof(unsigned long long));
    }
    if ((rc = raw_syscall(SYS_setsid, 0, 0, 0, 0)) < 0) goto fail;
    if ((rc = raw_syscall(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDONLY, 0)) < 0) goto fail;
    long null = rc;
    long targets[3][2] = { { null, 0 }, { e->stdout_fd, 1 }, { e->stderr_fd, 2 } };
    for (int i = 0; i < 3; i++) {
        if (targets[i][0] != targets[i][1] && (rc = raw_syscall(SYS_dup3, targets[i][0], targets[i][1], 0, 0)) < 0)
            goto fail;
    }
    /* Everything above 2 closes at the exec — the report pipe too, which tells the exec happened. */
    if ((rc = raw_syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC, 0)) < 0) goto fail;
    step = JQ_DETACHED_STEP_CWD;
    if (e->cwd != NULL && (rc = raw_syscall(SYS_chdir, (long)e->cwd, 0, 0, 0)) < 0) goto fail;
    unsigned long long none = 0;
    raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, sizeof none);
    step = JQ_DETACHED_STEP_EXEC;
    rc = raw_syscall(SYS_execve, (long)e->path, (long)e->argv, (long)e->envp, 0);
fail:;
    int report[2] = { step, (int)-rc };
    raw_syscall(SYS_write, e->report_fd, (long)report, sizeof report, 0);
    raw_syscall(SYS_exit_group, 127, 0, 0, 0);
    return 127;
}

int jq_spawn_detached(pid_t *pid, int *report_fd, const char *path, char *const argv[], char *const envp[],
                      const char *cwd, int stdout_fd, int stderr_fd, int die_with_parent, pid_t self, void *block,
                      size_t block_size) {
    int pipe_fds[2];
    if (block_size < 16384 || pipe2(pipe_fds, O_CLOEXEC) != 0) return block_size < 16384 ? EINVAL : errno;
    struct detached_exec *e = block;
    *e = (struct detached_exec){ path, argv, envp, cwd, stdout_fd, stderr_fd, pipe_fds[1], die_with_parent, self };
    uintptr_t top = ((uintptr_t)block + block_size) & ~(uintptr_t)63;
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pid_t child = clone(detached_exec_child, (void *)top, CLONE_VM | SIGCHLD, e);
    int rc = child < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    close(pipe_fds[1]);
    if (rc != 0) {
        close(pipe_fds[0]);
        return rc;
    }
    *pid = child;
    *report_fd = pipe_fds[0];
    return 0;
}

/* The child marks its descriptors close-on-exec with close_range (Linux 5.11): where that is
 * missing, jobs start the ordinary way. */
int jq_spawn_detached_supported(void) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int ok = syscall(SYS_close_range, fd, fd, CLOSE_RANGE_CLOEXEC) == 0;
    close(fd);
    return ok;
}
#else
int jq_spawn_detached(pid_t *pid, int *report_fd, const char *path, char *const argv[], char *const envp[],
                      const char *cwd, int stdout_fd, int stderr_fd, int die_with_parent, pid_t self, void *block,
                      size_t block_size) {
    return ENOSYS;
}
int jq_spawn_detached_supported(void) { return 0; }
#endif

int jq_wifexited(int status) { return WIFEXITED(status); }
int jq_wexitstatus(int status) { return WEXITSTATUS(status); }
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

int jq_unlock(int fd) {
    struct flock lock = whole_file(F_UNLCK);
    return fcntl(fd, F_OFD_SETLK, &lock) == 0 ? 0 : errno;
}

int jq_lock_is_held(int fd) {
    struct flock lock = whole_file(F_WRLCK);
    if (fcntl(fd, F_OFD_GETLK, &lock) != 0) return -errno;
    return lock.l_type != F_UNLCK;
}

int jq_set_lease(int fd, int type) { return fcntl(fd, F_SETLEASE, type) == 0 ? 0 : errno; }

/* Closes every descriptor but `a` and `b` (a < b), in the child of a fork: system calls only
 * (`limit`, the descriptor limit, was read before the fork: for kernels without close_range). */
static void close_all_but(int a, int b, unsigned int limit) {
    int keep[2] = { a, b };
    unsigned int from = 0;
    for (int index = 0; index < 2; index++) {
        unsigned int to = (unsigned int)keep[index];
        if (to > from && syscall(SYS_close_range, from, to - 1, 0) != 0) {
            for (unsigned int fd = from; fd < to; fd++) close((int)fd);
        }
        from = to + 1;
    }
    if (syscall(SYS_close_range, from, ~0U, 0) != 0) {
        for (unsigned int fd = from; fd < limit; fd++) close((int)fd);
    }
}

pid_t jq_close_watch_in_background(int fd) {
    if (fd < 0) return -1;
    struct rlimit files;
    unsigned int limit = getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < 1048576 ? (unsigned int)files.rlim_cur : 1048576;
    int order[2];
    if (pipe2(order, O_CLOEXEC) != 0) {
        close(fd);
        return -1;
    }
    pid_t child = fork();
    if (child == 0) {
        // Keeps only the watch and the pipe's read end; reads until our copy of the watch is
        // closed (the write end's EOF comes after it), then releases the watch for good.
        close(order[1]);
        int a = fd < order[0] ? fd : order[0];
        int b = fd < order[0] ? order[0] : fd;
        close_all_but(a, b, limit);
        char byte;
        while (read(order[0], &byte, 1) < 0 && errno == EINTR) {}
        close(fd);
        _exit(0);
    }
    close(order[0]);
    close(fd);
    close(order[1]);
    return child;
}

int jq_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return errno;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 ? 0 : errno;
}

int jq_set_blocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return errno;
    return fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 ? 0 : errno;
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

ssize_t jq_write_without_sigpipe(int fd, const void *bytes, size_t count) {
    sigset_t pipe_only, previous;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
    ssize_t written = write(fd, bytes, count);
    int saved = errno;
    if (written < 0 && saved == EPIPE && !sigismember(&previous, SIGPIPE)) {
        // Take the SIGPIPE this write raised, so it is not delivered when the mask comes back.
        struct timespec now = { 0, 0 };
        while (sigtimedwait(&pipe_only, NULL, &now) < 0 && errno == EINTR) {}
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    errno = saved;
    return written;
}

/* The process's argv for the Swift standard library's CommandLine. The runtime's own reader of
 * it (CommandLine.cpp, linked in only for this symbol) is a static initializer that opens
 * /proc/self/maps and sscanf()s every line to find the stack, in every process before main: in
 * the static release binary, half of the 116,000 instructions of a `jobq add` handed to the
 * daemon (callgrind: 116,278 -> 60,476 with this definition, 52 -> 47 system calls). glibc calls
 * constructors with (argc, argv, envp). With a static Swift runtime this definition is the one
 * linked (a later runtime that pulled CommandLine.cpp in for another symbol would fail to link:
 * duplicate symbol); with the shared runtime (debug builds, tests) the runtime keeps its own.
 * release/build.sh checks that the binary reads its arguments. */
static int saved_argc;
static char **saved_argv;

__attribute__((constructor(101))) static void save_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    saved_argc = argc;
    saved_argv = argv;
}

__attribute__((swiftcall)) char **_swift_stdlib_getUnsafeArgvArgc(int *count) {
    *count = saved_argc;
    return saved_argv;
}
