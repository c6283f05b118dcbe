#ifndef JOBQ_QUICK_ADD_H
#define JOBQ_QUICK_ADD_H

#include <stddef.h>

/* `jobq add [--home DIR] [--json] -- COMMAND [ARG…]`, the most common command of all, handed
 * to a running daemon before `main` — before the Swift runtime starts (quick_add.c). */

/* An add that went out but was refused or not answered (status JQ_ADD_REFUSED or
 * JQ_ADD_NO_ANSWER; JQ_ADD_UNAVAILABLE when nothing was sent): `main` reports it as any
 * add's, and never sends the job again. */
struct jq_quick_add_outcome {
    int status;
    /* The daemon's refusal (JQ_ADD_REFUSED). */
    const char *message;
    /* The home the job was sent to. */
    const char *home;
};

/* What the add before `main` left to report. */
const struct jq_quick_add_outcome *jq_quick_add_left(void);

/* The add itself, as the constructor runs it on the process's argc, argv and environment.
 * Returns JQ_ADD_ADDED having written the id to `output` (as `jobq add` prints it), or
 * JQ_ADD_UNAVAILABLE having sent nothing (another form, a value near a limit, a path that is
 * not plain, no daemon listening: the ordinary path decides), or JQ_ADD_REFUSED /
 * JQ_ADD_NO_ANSWER with `outcome` filled in. */
int jq_quick_add(int argc, char **argv, char **envp, int output, struct jq_quick_add_outcome *outcome);

/* The home's path as Home.resolve chooses it (--home, else $JOBQ_HOME, else
 * $XDG_STATE_HOME/jobq, else $HOME/.local/state/jobq), written to `path`; 0 when it would be
 * relative (Home.resolve makes those absolute itself) or does not fit. `variable` reads the
 * environment. */
typedef const char *(*jq_variable_reader)(const char *name, void *context);
int jq_quick_add_home(const char *explicit_home, jq_variable_reader variable, void *context, char *path, size_t size);

#endif
