/*
 * password_command: run a program without a shell, with a deadline, and
 * take its standard output as the password.
 */
#define _GNU_SOURCE /* pipe2, posix_spawn_file_actions_addclosefrom_np */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "pwcmd.h"
#include "log.h"
#include "xalloc.h"
#include "compat.h"

extern char **environ;

/* Standard error kept for the log; the rest is read and dropped. */
#define STDERR_KEEP 1024

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool token_char(char c)
{
	return isalnum((unsigned char)c) || strchr("+/=_-.~", c);
}

void pwcmd_redact(const char *s, char *out, size_t n)
{
	char *line = xstrndup(s, strcspn(s, "\n"));
	size_t i = 0, j = 0, len = strlen(line);

	while (i < len) {
		size_t w = 0;

		while (i + w < len && token_char(line[i + w]))
			w++;
		if (w >= 16) {
			memcpy(line + j, "***", 3);
			j += 3;
			i += w;
			continue;
		}
		if (!w)
			w = 1;
		for (; w; w--, i++)
			line[j++] =
				iscntrl((unsigned char)line[i]) ? '?' : line[i];
	}
	line[j] = '\0';
	log_redact(line, out, n);
	free(line);
}

/* Start 'argv' with its stdout and stderr on the pipes' write ends. */
static int spawn(char *const *argv, int out_w, int err_w, pid_t *pid,
		 struct err *e)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, deflt;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	posix_spawn_file_actions_adddup2(&fa, err_w, 2);
	/* no socket or file of the daemon reaches the program */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	sigemptyset(&none);
	sigemptyset(&deflt);
	sigaddset(&deflt, SIGPIPE);
	sigaddset(&deflt, SIGHUP);
	sigaddset(&deflt, SIGTERM);
	sigaddset(&deflt, SIGINT);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &deflt);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF |
					      POSIX_SPAWN_SETPGROUP);
	rc = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc)
		return err_set(e, "password_command '%.128s' cannot start: %s",
			       argv[0], strerror(rc));
	return 0;
}

/* What the two pipes gave, read until both close or the deadline. */
struct output {
	char out[PWCMD_MAX_OUTPUT + 1];
	size_t nout;
	bool too_long;
	char err[STDERR_KEEP + 1];
	size_t nerr;
};

/* Returns 0 when both pipes reached end of file, -1 at the deadline. */
static int read_pipes(int fds[2], struct output *o, double deadline)
{
	struct pollfd p[2];
	char drop[512];

	while (fds[0] >= 0 || fds[1] >= 0) {
		double left = deadline - now();
		int nfds = 0, k;

		if (left <= 0)
			return -1;
		for (k = 0; k < 2; k++)
			if (fds[k] >= 0)
				p[nfds++] = (struct pollfd){fds[k], POLLIN, 0};
		if (poll(p, (nfds_t)nfds, (int)(left * 1000) + 1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (k = 0; k < nfds; k++) {
			bool is_out = p[k].fd == fds[0];
			char *buf =
				is_out ? o->out + o->nout : o->err + o->nerr;
			size_t room = is_out ? PWCMD_MAX_OUTPUT - o->nout
					     : STDERR_KEEP - o->nerr;
			ssize_t r;

			if (!p[k].revents)
				continue;
			r = room ? read(p[k].fd, buf, room)
				 : read(p[k].fd, drop, sizeof(drop));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(p[k].fd);
				fds[is_out ? 0 : 1] = -1;
				continue;
			}
			if (!room && is_out)
				o->too_long = true;
			else if (room && is_out)
				o->nout += (size_t)r;
			else if (room)
				o->nerr += (size_t)r;
		}
	}
	return 0;
}

/*
 * Wait for 'pid' until the deadline, then kill its process group and reap
 * it. Returns its wait status, or -1 when it had to be killed.
 */
static int reap(pid_t pid, double deadline)
{
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return 0; /* already reaped elsewhere: nothing to wait
				   */
		if (now() >= deadline)
			break;
		nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return -1;
}

/* Log the program's standard error, masked, when it wrote any. */
static void log_stderr(const struct output *o, const char *prog,
		       const char *who)
{
	char safe[512];

	if (!o->nerr)
		return;
	pwcmd_redact(o->err, safe, sizeof(safe));
	log_warn("password_command wrote to its standard error", "target", who,
		 "command", prog, "stderr", safe, NULL);
}

/* The password, or NULL with 'e' set, from what the program did. */
static char *outcome(struct output *o, int st, bool timed_out, const char *prog,
		     double timeout, struct err *e)
{
	if (timed_out) {
		err_set(e,
			"password_command '%.128s' timed out after %.1f s "
			"and was killed",
			prog, timeout);
		return NULL;
	}
	if (WIFSIGNALED(st)) {
		err_set(e, "password_command '%.128s' was killed by signal %d",
			prog, WTERMSIG(st));
		return NULL;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		err_set(e,
			"password_command '%.128s' failed with exit status %d",
			prog, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return NULL;
	}
	if (o->too_long) {
		err_set(e,
			"password_command '%.128s' printed more than %d bytes",
			prog, PWCMD_MAX_OUTPUT);
		return NULL;
	}
	while (o->nout && isspace((unsigned char)o->out[o->nout - 1]))
		o->nout--;
	o->out[o->nout] = '\0';
	if (!o->nout || strlen(o->out) != o->nout) {
		err_set(e, "password_command '%.128s' printed %s", prog,
			o->nout ? "a NUL byte" : "nothing");
		return NULL;
	}
	return xstrndup(o->out, o->nout);
}

char *pwcmd_run(char *const *argv, double timeout, const char *who,
		struct err *e)
{
	struct output *o = xcalloc(1, sizeof(*o));
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, fds[2], st = 0;
	double deadline = now() + (timeout > 0 ? timeout : 0.001);
	bool timed_out;
	char *pw = NULL;
	pid_t pid;

	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		err_set(e, "password_command: cannot make a pipe: %s",
			strerror(errno));
		goto out;
	}
	if (spawn(argv, outp[1], errp[1], &pid, e) < 0)
		goto out;
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	fds[0] = outp[0];
	fds[1] = errp[0];
	outp[0] = errp[0] = -1;
	timed_out = read_pipes(fds, o, deadline) < 0;
	/* a grandchild may hold a pipe open: reap() kills the group */
	st = reap(pid, timed_out ? now() : deadline);
	timed_out |= st == -1;
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	log_stderr(o, argv[0], who);
	pw = outcome(o, st, timed_out, argv[0], timeout, e);
out:
	for (int k = 0; k < 2; k++) {
		if (outp[k] >= 0)
			close(outp[k]);
		if (errp[k] >= 0)
			close(errp[k]);
	}
	explicit_bzero(o, sizeof(*o));
	free(o);
	return pw;
}
