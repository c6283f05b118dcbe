/* spawn_loop N P -- COMMAND...
 *
 * The raw limit of W2: run COMMAND N times with posix_spawn, at most P at a time (a new
 * one as soon as one ends), stdin/stdout/stderr inherited. No queue, no bookkeeping: what a
 * job queue could at best approach on this machine. It prints nothing: run.sh times it from
 * outside, around the whole process, exactly as it times every queue. */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: spawn_loop N P -- COMMAND...\n");
        return 64;
    }
    long n = strtol(argv[1], NULL, 10), p = strtol(argv[2], NULL, 10);
    if (n < 1 || p < 1) {
        fprintf(stderr, "spawn_loop: N and P must be at least 1\n");
        return 64;
    }
    char **command = &argv[4];
    long started = 0, ended = 0, failed = 0;
    while (ended < n) {
        while (started < n && started - ended < p) {
            pid_t pid;
            int rc = posix_spawnp(&pid, command[0], NULL, NULL, command, environ);
            if (rc != 0) {
                fprintf(stderr, "spawn_loop: %s: %s\n", command[0], strerror(rc));
                return 1;
            }
            started++;
        }
        int status;
        if (wait(&status) < 0) {
            if (errno == EINTR) continue;
            perror("wait");
            return 1;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
        ended++;
    }
    if (failed) fprintf(stderr, "spawn_loop: %ld of %ld runs failed\n", failed, n);
    return failed ? 1 : 0;
}
