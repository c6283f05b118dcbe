#ifndef JOBQ_CPOSIX_H
#define JOBQ_CPOSIX_H

// Wrappers for the POSIX and Linux calls Swift cannot reach: variadic functions (fcntl, prctl,
// syscall), macros (WIFEXITED …) and glibc's _np spawn extensions. Each is a line or two; the
// logic stays in Swift — except `jobq add`'s side of the daemon socket (add_client.c) and the
// constants and checks it shares with Swift, which `jobq add` runs before the Swift runtime
// starts (Sources/CQuickAdd).

#include <sys/types.h>
#include <sys/signalfd.h>
#include <signal.h>
#include <stdint.h>

/// Starts `path` (an absolute or cwd-relative path; no PATH search) as the leader of a new
/// session, with stdin from /dev/null, stdout/stderr on the given descriptors, `extra_fds`
/// as descriptors 3, 4, … in order, every other descriptor closed, every signal at its
/// default disposition and none blocked, in `cwd` (NULL: the caller's). With `die_with_parent`
/// the child gets SIGKILL when the calling thread dies (PR_SET_PDEATHSIG): a job does not outlive
/// the worker that supervises it.
/// Returns 0 and sets *pid, or returns the errno of the step that failed (chdir, exec, …).
int jq_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
             const char *cwd, int stdout_fd, int stderr_fd, const int *extra_fds, int extra_count,
             int die_with_parent);

/// Notes which signals jq_spawn must reset to their default disposition in a child: those this
/// process ignores or catches now (until it is called, all of them). Call it again whenever the
/// process changes a disposition.
void jq_spawn_note_ignored_signals(void);
/// Starts a job like jq_spawn, but returns without waiting for its exec: the child runs on
/// `block` (at least 16 KiB) and shares our memory until it execs, so `block` and every string
/// passed must stay untouched until `report_fd` (close-on-exec, ours to close) reports the
/// outcome: EOF once the exec succeeded, else two ints — the step that failed (JQ_DETACHED_STEP_…)
/// and its errno — and the child exits 127. Returns 0 or an errno (ENOSYS where it is not
/// supported: use jq_spawn).
int jq_spawn_detached(pid_t *pid, int *report_fd, const char *path, char *const argv[], char *const envp[],
                      const char *cwd, int stdout_fd, int stderr_fd, int die_with_parent, pid_t self, void *block,
                      size_t block_size);
int jq_spawn_detached_supported(void);
enum { JQ_DETACHED_STEP_START = 1, JQ_DETACHED_STEP_CWD = 2, JQ_DETACHED_STEP_EXEC = 3 };

/// glibc's malloc gives freed memory back to the kernel eagerly (brk/munmap on every free of a
/// large block), which a process that spawns thousands of jobs pays for over and over. Keep up
/// to `bytes` of freed memory instead.
void jq_malloc_keep_freed(int bytes);

/// Gives freed heap memory back to the kernel now (malloc_trim): for a process about to sit idle.
void jq_malloc_release_free(void);

/// Drops this process's copies of the pages of the executable's code and constants (madvise
/// MADV_DONTNEED on the segments that hold only the file's bytes; the mappings stay): for a
/// process about to sit idle, which then keeps only the pages it goes on to use. Using one
/// again maps it back from the page cache (a minor fault per ~64 KiB), or reads it from disk if
/// memory pressure evicted it meanwhile.
void jq_release_code_pages(void);

int jq_wifexited(int status);
int jq_wexitstatus(int status);
int jq_wtermsig(int status);

/// pidfd_open(2) and pidfd_send_signal(2); -1 with errno on failure.
int jq_pidfd_open(pid_t pid);
int jq_pidfd_send_signal(int pidfd, int sig);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are re-parented to us, not to PID 1.
int jq_set_child_subreaper(void);

/// A signalfd for `count` signals, which are also blocked in the calling thread.
int jq_signalfd(const int *signals, int count);

/// Open-file-description locks (F_OFD_SETLK): held by an open file, released by the kernel
/// when the last descriptor of that open file closes, inherited across fork/exec with the fd.
/// Return 0 on success, or errno (EAGAIN when another open file holds the lock).
int jq_lock_exclusive(int fd, int wait);
/// 1 when some other open file holds a lock on fd's file, 0 when none does, -errno on error.
int jq_lock_is_held(int fd);
/// Drops the lock this open file holds (0, or errno).
int jq_unlock(int fd);

/// fcntl(F_SETLEASE): a read lease is granted only while no process has the file open for
/// writing, which is how the spool tells a finished file from one still being written.
int jq_set_lease(int fd, int type);

/// Closes an inotify descriptor without waiting for the kernel to release its watches. That
/// release waits for a grace period of the kernel's (synchronize_srcu), which under a stream of
/// events on the watched folder takes 8–20 ms here: on every `jobq wait` that returned, or at the
/// exit that closes it anyway. A forked child that keeps only this descriptor releases it last,
/// after our copy is closed, and exits. For a command about to exit (its orphan is reaped by
/// init, or by the supervisor of the job it runs in); a long-lived caller would collect a zombie
/// per call, and a daemon's exit gains nothing from it.
/// Returns that child, or -1 when it closed the descriptor itself (no pipe, or fork failed).
pid_t jq_close_watch_in_background(int fd);

/// fcntl(F_SETFL, O_NONBLOCK) / FD_CLOEXEC in one place.
int jq_set_nonblocking(int fd);
int jq_set_blocking(int fd);
int jq_set_cloexec(int fd);



/// posix_spawn_file_actions_addchdir_np, pipe2(O_CLOEXEC): glibc extensions Swift does not see.
#include <spawn.h>
int jq_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);
int jq_pipe_cloexec(int fds[2]);

/// A listening Unix stream socket at `path` (non-blocking, close-on-exec), or -errno.
/// ENAMETOOLONG when the path does not fit in sockaddr_un.
int jq_unix_listen(const char *path);
/// A connected Unix stream socket to `path` (close-on-exec), or -errno.
int jq_unix_connect(const char *path);
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC; -errno on failure.
int jq_unix_accept(int listener);
/// The uid of the process at the other end of a Unix socket, or -1.
long jq_peer_uid(int fd);

/// write(2) that fails with EPIPE instead of killing the process with SIGPIPE when the reading
/// end is gone (a FIFO whose listener exited between our open and our write). For processes
/// that do not ignore SIGPIPE — `jobq add` poking the daemon after its commit must not die
/// there and leave the user without the ids of jobs it added.
ssize_t jq_write_without_sigpipe(int fd, const void *bytes, size_t count);
/// SO_RCVTIMEO / SO_SNDTIMEO in milliseconds.
int jq_socket_timeout(int fd, int milliseconds);

/// What a job may be at most (JobLimits): Linux refuses to exec a single argument or
/// environment string over 128 KiB (MAX_ARG_STRLEN), and an argv and environment over ARG_MAX
/// (2 MiB here) together; jobq keeps a margin below that. And the largest message on the add
/// socket (AddWire).
enum {
    JQ_MAXIMUM_STRING_BYTES = 128 * 1024 - 1,
    JQ_MAXIMUM_ARGV_AND_ENVIRONMENT_BYTES = 1 << 20,
    JQ_MAXIMUM_WORDS = 100000,
    JQ_ADD_MAXIMUM_MESSAGE = 8 << 20,
};

/// The add socket's format (AddWire): its version, the first field of every request, and the
/// one-letter tag of each field.
#define JQ_ADD_WIRE_VERSION "1"
enum {
    JQ_ADD_TAG_VERSION = 'v',
    JQ_ADD_TAG_CWD = 'c',
    JQ_ADD_TAG_PRIORITY = 'p',
    JQ_ADD_TAG_RETRIES = 'r',
    JQ_ADD_TAG_RUN_AFTER = 'w',
    JQ_ADD_TAG_NAME = 'n',
    JQ_ADD_TAG_TIMEOUT = 't',
    JQ_ADD_TAG_AFTER = 'd',
    JQ_ADD_TAG_ARGUMENT = 'a',
    JQ_ADD_TAG_ENVIRONMENT = 'e',
};

/// Whether the path (`length` bytes) is absolute, without empty, "." or ".." components.
int jq_path_is_normalized(const char *path, size_t length);

/// How an exchange on the add socket ended (add_client.c).
enum {
    /// Nothing was taken: no daemon listens, or it closed the connection before reading.
    JQ_ADD_UNAVAILABLE = 0,
    JQ_ADD_ADDED = 1,
    /// The daemon refused the job: `message` says why (malloc'ed; the caller frees it).
    JQ_ADD_REFUSED = 2,
    /// The request went out, but no (readable) answer came back: the job may have been added.
    JQ_ADD_NO_ANSWER = 3,
};
struct jq_add_answer {
    int64_t id;
    char *message;
};
/// Sends one framed request (`count` bytes, its length first) to the daemon at `socket_path`
/// and reads its answer into `answer`. Returns one of JQ_ADD_*.
int jq_add_exchange(const void *message, size_t count, const char *socket_path, struct jq_add_answer *answer);

/// The terminal's width in columns, or 0 when fd is not a terminal.
int jq_terminal_width(int fd);
#endif
