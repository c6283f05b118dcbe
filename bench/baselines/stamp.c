/* stamp FILE: the job of the dispatch-latency workload (W3).
 *
 * Its first action is to read CLOCK_REALTIME; it then writes the nanoseconds into FILE
 * atomically (FILE.tmp, then rename), so the harness never reads a half-written stamp.
 * Built static so that the dynamic loader does not add to every tool's latency. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now); /* first thing: the job has started */
    if (argc != 2) {
        fprintf(stderr, "usage: stamp FILE\n");
        return 64;
    }
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]) >= (int)sizeof tmp) return 1;
    char text[32];
    int len = snprintf(text, sizeof text, "%lld\n",
                       (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, (size_t)len) != len || close(fd) != 0) {
        perror(tmp);
        return 1;
    }
    if (rename(tmp, argv[1]) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
