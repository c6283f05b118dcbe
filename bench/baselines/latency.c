/* latency STAMPFILE [TIMEOUT_MS] -- ENQUEUE-COMMAND...
 *
 * One sample of dispatch latency (W3): t0 = CLOCK_REALTIME, run the enqueue command
 * (posix_spawn + waitpid, its stdout to /dev/null), then wait (inotify on the stamp's
 * directory, watch set up before t0) until STAMPFILE appears, renamed into place by the
 * `stamp` job. Prints stamp - t0 in nanoseconds. Exits 1 on a failed enqueue or a timeout. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int read_stamp(const char *path, long long *out) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fscanf(f, "%lld", out) == 1;
    fclose(f);
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: latency STAMPFILE [TIMEOUT_MS] -- COMMAND...\n");
        return 64;
    }
    const char *stamp = argv[1];
    long timeout_ms = 10000;
    int i = 2;
    if (strcmp(argv[i], "--") != 0) timeout_ms = strtol(argv[i++], NULL, 10);
    if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) {
        fprintf(stderr, "latency: missing -- COMMAND\n");
        return 64;
    }
    char **command = &argv[i + 1];

    char dirbuf[PATH_MAX];
    snprintf(dirbuf, sizeof dirbuf, "%s", stamp);
    const char *dir = dirname(dirbuf);

    int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (in < 0 || inotify_add_watch(in, dir, IN_MOVED_TO | IN_CREATE) < 0) {
        perror("inotify");
        return 1;
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);

    long long t0 = now_ns();
    pid_t pid;
    int rc = posix_spawnp(&pid, command[0], &actions, NULL, command, environ);
    if (rc != 0) {
        fprintf(stderr, "latency: cannot run %s: %s\n", command[0], strerror(rc));
        return 1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "latency: enqueue command failed (status %d)\n", status);
        return 1;
    }

    long long deadline = now_ns() + timeout_ms * 1000000LL;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        struct stat st;
        if (stat(stamp, &st) == 0) break; /* already there (the watch saw it, or will) */
        long long left = (deadline - now_ns()) / 1000000LL;
        if (left <= 0) {
            fprintf(stderr, "latency: no stamp %s after %ld ms\n", stamp, timeout_ms);
            return 1;
        }
        struct pollfd p = {.fd = in, .events = POLLIN};
        if (poll(&p, 1, (int)left) > 0) {
            ssize_t n;
            while ((n = read(in, buf, sizeof buf)) > 0) {} /* drain; the stat above decides */
        }
    }
    long long t1;
    if (read_stamp(stamp, &t1) != 0) {
        fprintf(stderr, "latency: unreadable stamp %s\n", stamp);
        return 1;
    }
    printf("%lld\n", t1 - t0);
    return 0;
}
