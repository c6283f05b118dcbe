/* `jobq add`'s side of the daemon socket (the format is described in AddWire.swift), and the
 * checks the job must pass before it may travel that way. In C because `jobq add` runs it before
 * the Swift runtime starts (Sources/CQuickAdd); AddClient.swift runs the same code for every
 * other add that goes to the daemon. */
#define _GNU_SOURCE
#include "cposix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int jq_path_is_normalized(const char *path, size_t length) {
    if (length == 0 || path[0] != '/') return 0;
    if (length == 1) return 1;
    size_t start = 1;
    for (size_t end = 1; end <= length; end++) {
        if (end < length && path[end] != '/') continue;
        size_t component = end - start;
        int dots = 1;
        for (size_t i = start; i < end; i++) dots &= path[i] == '.';
        if (component == 0 || (dots && component <= 2)) return 0;
        start = end + 1;
    }
    return 1;
}

/* Fills `buffer` from the socket; 0 when it ends or fails first. */
static int receive_all(int fd, void *buffer, size_t count) {
    size_t offset = 0;
    while (offset < count) {
        ssize_t n = recv(fd, (char *)buffer + offset, count - offset, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        offset += (size_t)n;
    }
    return 1;
}

/* `ok` NUL decimal-id NUL, or `error` NUL message NUL; anything else is no answer. */
static int decode_answer(const unsigned char *payload, size_t count, struct jq_add_answer *answer) {
    if (count > 4 && memcmp(payload, "ok", 3) == 0 && payload[count - 1] == 0) {  // "ok" and its NUL
        int64_t id = 0;
        for (size_t i = 3; i < count - 1; i++) {
            if (payload[i] < '0' || payload[i] > '9') return JQ_ADD_NO_ANSWER;
            if (__builtin_mul_overflow(id, 10, &id) || __builtin_add_overflow(id, payload[i] - '0', &id))
                return JQ_ADD_NO_ANSWER;
        }
        answer->id = id;
        return JQ_ADD_ADDED;
    }
    size_t message = sizeof "error";
    if (count < message + 1 || memcmp(payload, "error", message) != 0 || payload[count - 1] != 0) return JQ_ADD_NO_ANSWER;
    if (memchr(payload + message, 0, count - 1 - message) != NULL) return JQ_ADD_NO_ANSWER;
    answer->message = strndup((const char *)payload + message, count - 1 - message);
    return answer->message ? JQ_ADD_REFUSED : JQ_ADD_NO_ANSWER;
}

int jq_add_exchange(const void *message, size_t count, const char *socket_path, struct jq_add_answer *answer) {
    answer->id = 0;
    answer->message = NULL;
    int fd = jq_unix_connect(socket_path);
    if (fd < 0) return JQ_ADD_UNAVAILABLE;
    jq_socket_timeout(fd, 60000);
    size_t offset = 0;
    while (offset < count) {
        ssize_t n = send(fd, (const char *)message + offset, count - offset, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            // The daemon closed the connection before reading it whole: it was stopping, and it
            // commits only whole requests.
            close(fd);
            return JQ_ADD_UNAVAILABLE;
        }
        offset += (size_t)n;
    }
    int status = JQ_ADD_NO_ANSWER;
    unsigned char header[4];
    if (receive_all(fd, header, 4)) {
        size_t length = header[0] | header[1] << 8 | header[2] << 16 | (size_t)header[3] << 24;
        unsigned char *payload = length < (size_t)JQ_ADD_MAXIMUM_MESSAGE ? malloc(length ? length : 1) : NULL;
        if (payload && receive_all(fd, payload, length)) status = decode_answer(payload, length, answer);
        free(payload);
    }
    close(fd);
    return status;
}
