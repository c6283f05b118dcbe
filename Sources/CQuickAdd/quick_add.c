/* `jobq add -- COMMAND`, handed to a running daemon before `main`.
 *
 * Every `jobq add` is a process start, and in the static release binary the Swift runtime's
 * start-up (its initializers, and the page faults of the code and data they touch) is what a
 * start costs beyond a C program's: measured on this machine, `jobq --version` 0.76 ms against
 * 0.48 ms for the same binary stopped in a constructor, and a `jobq add` handed to a daemon
 * 0.86–0.92× as long when done here. So the plain form — the one `jobq add -- make -j4` and
 * every benchmark uses — is done here, from argc, argv and environ, by a constructor that runs
 * before the runtime's own. Everything else is left to `main`: any other form or option, a
 * value near a limit, a home or working directory that is not a plain absolute path, or no
 * daemon listening — then nothing was sent, and the ordinary path (FastPath, AddRequest)
 * decides, with its own messages. Once the request went out, only the id is printed here; a
 * refusal or a missing answer is left to `main` to report (jq_quick_add_left), so that the
 * wording of errors lives in one place and the job is never sent twice.
 *
 * The request is the one AddWire.request writes for the same job, byte for byte (the tests
 * compare them; its tags and version are cposix.h's); the socket exchange is add_client.c's,
 * which AddClient.swift uses too. The home is chosen as Home.resolve chooses it (a test
 * compares them over 625 environments): a change to either, to AddWire, to JobLimits or to what
 * `jobq add` prints must be made here too. */
#define _GNU_SOURCE
#include "quick_add.h"
#include "cposix.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int jq_quick_add_home(const char *explicit_home, jq_variable_reader variable, void *context, char *path, size_t size) {
    const char *base;
    const char *suffix = "";
    const char *value;
    if (explicit_home && *explicit_home) {
        base = explicit_home;
    } else if ((value = variable("JOBQ_HOME", context)) && *value) {
        base = value;
    } else if ((value = variable("XDG_STATE_HOME", context)) && value[0] == '/') {
        base = value;
        suffix = "/jobq";
    } else {
        value = variable("HOME", context);
        base = value && *value && strcmp(value, "/") != 0 ? value : "";
        suffix = "/.local/state/jobq";
    }
    int length = snprintf(path, size, "%s%s", base, suffix);
    return length > 0 && (size_t)length < size && path[0] == '/';
}

/* The value of `name` in the environment `context` (a NULL-terminated `char **`): the one the
 * job is sent with. */
static const char *variable_in(const char *name, void *context) {
    size_t length = strlen(name);
    for (char **entry = context; *entry; entry++) {
        if (strncmp(*entry, name, length) == 0 && (*entry)[length] == '=') return *entry + length + 1;
    }
    return NULL;
}

/* Only ASCII: Home.resolve reads a path as Swift characters (a `/` followed by a combining mark
 * is not a `/`; invalid UTF-8 is repaired), which a byte test would not match. */
static int is_ascii(const char *text) {
    for (; *text; text++) {
        if ((unsigned char)*text >= 0x80) return 0;
    }
    return 1;
}

/* `[--home DIR] add [--home DIR | --json]… -- WORD…`, as FastPath.scan reads it minus the job
 * options: the index of the command's first word, or 0 for any other form. */
static int scan(int argc, char **argv, const char **home, int *json) {
    int saw_add = 0;
    for (int index = 1; index < argc; index++) {
        const char *word = argv[index];
        if (strcmp(word, "--") == 0) return saw_add && index + 1 < argc ? index + 1 : 0;
        if (!saw_add && strcmp(word, "add") == 0) {
            saw_add = 1;
        } else if (saw_add && strcmp(word, "--json") == 0) {
            *json = 1;
        } else if (strncmp(word, "--home=", 7) == 0) {
            *home = word + 7;
        } else if (strcmp(word, "--home") == 0) {
            // A dash-led value is the argument parser's error to report (as in FastPath).
            if (index + 1 >= argc || argv[index + 1][0] == '-') return 0;
            *home = argv[++index];
        } else {
            return 0;
        }
    }
    return 0;
}

struct request {
    char *bytes;
    size_t count;
};

/* Tag, value, NUL. */
static void field(struct request *request, char tag, const char *value) {
    size_t length = strlen(value);
    request->bytes[request->count++] = tag;
    memcpy(request->bytes + request->count, value, length + 1);
    request->count += length + 1;
}

/* `42` or `{"ids":[42]}`, as AddRequest prints them. */
static void print_id(int output, long long id, int json) {
    char line[64];
    int length = snprintf(line, sizeof line, json ? "{\"ids\":[%lld]}\n" : "%lld\n", id);
    for (int offset = 0; offset < length;) {
        ssize_t n = write(output, line + offset, (size_t)(length - offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        offset += (int)n;
    }
}

int jq_quick_add(int argc, char **argv, char **envp, int output, struct jq_quick_add_outcome *outcome) {
    *outcome = (struct jq_quick_add_outcome){ JQ_ADD_UNAVAILABLE, NULL, NULL };
    const char *explicit_home = NULL;
    int json = 0;
    int first = scan(argc, argv, &explicit_home, &json);
    if (first == 0 || argv[first][0] == 0) return JQ_ADD_UNAVAILABLE;  // an empty command: the parser says so

    // The limits JobLimits.check applies, with a margin: it measures the strings a job is made
    // of, in which each invalid UTF-8 byte becomes a 3-byte U+FFFD. Anything near a limit takes
    // the ordinary path, which refuses it with the usual message.
    size_t words = (size_t)(argc - first);
    size_t bytes = 0;
    for (int index = first; index < argc; index++) {
        size_t length = strlen(argv[index]);
        if (length > JQ_MAXIMUM_STRING_BYTES / 3) return JQ_ADD_UNAVAILABLE;
        bytes += length + 1;
    }
    for (char **entry = envp; *entry; entry++) {
        size_t length = strlen(*entry);
        if (length > JQ_MAXIMUM_STRING_BYTES / 3) return JQ_ADD_UNAVAILABLE;
        bytes += length + 1;
        words++;
    }
    if (words > JQ_MAXIMUM_WORDS || bytes > JQ_MAXIMUM_ARGV_AND_ENVIRONMENT_BYTES / 3) return JQ_ADD_UNAVAILABLE;

    char cwd[PATH_MAX + 1];
    if (getcwd(cwd, sizeof cwd) == NULL || !jq_path_is_normalized(cwd, strlen(cwd))) return JQ_ADD_UNAVAILABLE;
    static char home[PATH_MAX + 1];  // static: a refusal's outcome points at it
    char socket_path[PATH_MAX + 32];
    if (!jq_quick_add_home(explicit_home, variable_in, envp, home, sizeof home) || !is_ascii(home)) return JQ_ADD_UNAVAILABLE;
    snprintf(socket_path, sizeof socket_path, "%s/run/daemon.sock", home);

    // The fields AddWire.request writes for a job with no option, in its order.
    struct request request = { malloc(4 + 64 + strlen(cwd) + bytes + words), 4 };
    if (request.bytes == NULL) return JQ_ADD_UNAVAILABLE;
    field(&request, JQ_ADD_TAG_VERSION, JQ_ADD_WIRE_VERSION);
    field(&request, JQ_ADD_TAG_CWD, cwd);
    field(&request, JQ_ADD_TAG_PRIORITY, "0");
    field(&request, JQ_ADD_TAG_RETRIES, "0");
    field(&request, JQ_ADD_TAG_RUN_AFTER, "0");
    for (int index = first; index < argc; index++) field(&request, JQ_ADD_TAG_ARGUMENT, argv[index]);
    for (char **entry = envp; *entry; entry++) field(&request, JQ_ADD_TAG_ENVIRONMENT, *entry);
    size_t length = request.count - 4;
    for (int shift = 0; shift < 4; shift++) request.bytes[shift] = (char)(length >> (8 * shift) & 0xFF);

    struct jq_add_answer answer;
    int status = jq_add_exchange(request.bytes, request.count, socket_path, &answer);
    free(request.bytes);
    if (status == JQ_ADD_ADDED) print_id(output, (long long)answer.id, json);
    if (status == JQ_ADD_REFUSED || status == JQ_ADD_NO_ANSWER) {
        outcome->status = status;
        outcome->message = answer.message;
        outcome->home = home;
    }
    return status;
}

static struct jq_quick_add_outcome left;

const struct jq_quick_add_outcome *jq_quick_add_left(void) { return &left; }

/* A constructor with a priority runs before those without, which is what the statically linked
 * Swift runtime's initializers are (in debug builds and tests the shared runtime has started
 * already, in its library's own constructors: the same code runs, only later). `environ`: the
 * environment `main`'s path would send. An added job ends the process here, exit 0, as `main`
 * would have ended it. */
__attribute__((constructor(102))) static void quick_add_before_main(int argc, char **argv, char **envp) {
    (void)envp;
    if (jq_quick_add(argc, argv, environ, STDOUT_FILENO, &left) == JQ_ADD_ADDED) _exit(0);
}
