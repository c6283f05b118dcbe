/* durable_queue — the floor of W2's end to end for a queue that keeps an enqueue's promise.
 *
 *   durable_queue serve SOCKET FILE P     the server: until SIGTERM
 *   durable_queue add SOCKET COMMAND...   enqueue COMMAND; prints its id once it is on disk
 *   durable_queue wait SOCKET             returns once every job added so far has ended
 *
 * Per enqueue the server does what no durable queue can skip: it appends the command to FILE
 * (preallocated, so that a flush writes data only, as jobq's write-ahead log is) and fdatasyncs
 * it before it answers. Then it runs the jobs, P at a time, with posix_spawn. Nothing else: no
 * database, no log files, no crash recovery, no PIDs recorded. A queue with one process per
 * enqueue and a flush per enqueue could at best approach it on this disk; task-spooler does the
 * same chain without the flush. run.sh times it from outside, like every queue. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum { FILE_BYTES = 16 << 20, MAX_REQUEST = 1 << 20, MAX_JOBS = 1 << 20, MAX_WAITERS = 64 };

static int connect_to(const char *path) {
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof address.sun_path) return -1;
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) return -1;
    return fd;
}

static int send_all(int fd, const void *bytes, size_t count) {
    for (size_t done = 0; done < count;) {
        ssize_t n = send(fd, (const char *)bytes + done, count - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    return 0;
}

static int receive_all(int fd, void *bytes, size_t count) {
    for (size_t done = 0; done < count;) {
        ssize_t n = recv(fd, (char *)bytes + done, count - done, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    return 0;
}

/* A request: its length (4 bytes), then 'a' and the command's words each ended by NUL, or 'w'. */
static int client(int argc, char **argv) {
    int fd = connect_to(argv[2]);
    if (fd < 0) {
        perror("durable_queue: connect");
        return 1;
    }
    static char request[MAX_REQUEST];
    uint32_t length = 1;
    request[4] = argv[1][0];
    for (int index = 3; index < argc; index++) {
        size_t word = strlen(argv[index]) + 1;
        if (4 + length + word > sizeof request) return 64;
        memcpy(request + 4 + length, argv[index], word);
        length += (uint32_t)word;
    }
    memcpy(request, &length, 4);
    int64_t answer;
    if (send_all(fd, request, 4 + length) != 0 || receive_all(fd, &answer, sizeof answer) != 0) {
        fprintf(stderr, "durable_queue: no answer\n");
        return 1;
    }
    if (argv[1][0] == 'a') printf("%lld\n", (long long)answer);
    return 0;
}

static char **queued[MAX_JOBS];
static long added, started, ended;
static int waiters[MAX_WAITERS], waiting;

static void start_jobs(long slots) {
    while (started < added && started - ended < slots) {
        char **command = queued[started % MAX_JOBS];
        pid_t pid;
        if (posix_spawnp(&pid, command[0], NULL, NULL, command, environ) != 0) ended++;  // counted as ended
        for (char **word = command; *word; word++) free(*word);
        free(command);
        started++;
    }
}

static void answer_waiters(void) {
    if (ended < added) return;
    for (int index = 0; index < waiting; index++) {
        int64_t done = ended;
        send_all(waiters[index], &done, sizeof done);
        close(waiters[index]);
    }
    waiting = 0;
}

static int serve(const char *socket_path, const char *file_path, long slots) {
    int file = open(file_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (file < 0) {
        perror("durable_queue: open");
        return 1;
    }
    static char zeros[1 << 16];
    for (off_t offset = 0; offset < FILE_BYTES; offset += sizeof zeros) {
        if (pwrite(file, zeros, sizeof zeros, offset) != (ssize_t)sizeof zeros) return 1;
    }
    if (fsync(file) != 0) return 1;

    sigset_t child;
    sigemptyset(&child);
    sigaddset(&child, SIGCHLD);
    sigprocmask(SIG_BLOCK, &child, NULL);
    int children = signalfd(-1, &child, SFD_CLOEXEC | SFD_NONBLOCK);

    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen(socket_path) >= sizeof address.sun_path) return 64;
    strcpy(address.sun_path, socket_path);
    unlink(socket_path);
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 128) != 0) {
        perror("durable_queue: listen");
        return 1;
    }
    static char request[MAX_REQUEST];
    off_t offset = 0;
    for (;;) {
        struct pollfd fds[2] = { { listener, POLLIN, 0 }, { children, POLLIN, 0 } };
        if (poll(fds, 2, -1) < 0 && errno != EINTR) return 1;
        if (fds[1].revents) {
            struct signalfd_siginfo info;
            while (read(children, &info, sizeof info) > 0) {}
            while (waitpid(-1, NULL, WNOHANG) > 0) ended++;
            start_jobs(slots);
            answer_waiters();
        }
        if (!fds[0].revents) continue;
        int connection = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (connection < 0) continue;
        uint32_t length;
        if (receive_all(connection, &length, 4) != 0 || length < 1 || length > sizeof request ||
            receive_all(connection, request, length) != 0) {
            close(connection);
            continue;
        }
        if (request[0] == 'w') {
            if (waiting == MAX_WAITERS) {
                close(connection);
                continue;
            }
            waiters[waiting++] = connection;
            answer_waiters();
            continue;
        }
        if (added - ended >= MAX_JOBS) {
            close(connection);
            continue;
        }
        // Durable first: the record on disk, then the answer.
        if (offset + 4 + length > FILE_BYTES) offset = 0;
        if (pwrite(file, &length, 4, offset) != 4 || pwrite(file, request, length, offset + 4) != (ssize_t)length ||
            fdatasync(file) != 0) {
            close(connection);
            continue;
        }
        offset += 4 + length;
        int words = 0;
        for (uint32_t at = 1; at < length; at++) words += request[at] == 0;
        char **command = calloc((size_t)words + 1, sizeof *command);
        for (uint32_t at = 1, word = 0; at < length; at += (uint32_t)strlen(request + at) + 1) {
            command[word++] = strdup(request + at);
        }
        queued[added % MAX_JOBS] = command;
        int64_t id = ++added;
        send_all(connection, &id, sizeof id);
        close(connection);
        start_jobs(slots);
    }
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "serve") == 0) return serve(argv[2], argv[3], strtol(argv[4], NULL, 10));
    if (argc >= 4 && strcmp(argv[1], "add") == 0) return client(argc, argv);
    if (argc == 3 && strcmp(argv[1], "wait") == 0) return client(argc, argv);
    fprintf(stderr, "usage: durable_queue serve SOCKET FILE P | add SOCKET COMMAND... | wait SOCKET\n");
    return 64;
}
