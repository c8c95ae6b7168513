/*
 * pgpulse: parse the command line, load the configuration, serve, and wait
 * for signals. No logic of its own.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include "cli.h"
#include "dryrun.h"
#include "http.h"
#include "log.h"
#include "runtime.h"
#include "selfmetrics.h"
#include "compat.h"

/*
 * glibc gives each thread that allocates an arena of its own, and a freed
 * chunk goes back to its thread's arena: with one HTTP thread per scraper
 * a burst of concurrent scrapes leaves one page's worth of memory in each.
 * Two arenas bound that; a fixed mmap threshold (which also turns off
 * glibc's raising it after a big free) makes page buffers and big results
 * go back to the system when freed instead of staying in the heap.
 */
static void bound_malloc(void)
{
#if defined(M_ARENA_MAX) && defined(M_MMAP_THRESHOLD)
	mallopt(M_ARENA_MAX, 2);
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

/*
 * Serve 'o' until SIGTERM or SIGINT, reloading on SIGHUP. Returns the
 * exit status.
 */
static int serve(const struct cli *o)
{
	struct runtime_opts ro;
	struct http_opts ho;
	struct err e = ERR_INIT;
	struct diags d = DIAGS_INIT;
	struct MHD_Daemon *httpd = NULL;
	struct runtime *rt;
	sigset_t set;
	int sig, rc = 1;

	/*
	 * Signals are taken by sigwait below, in this thread only: the
	 * server's threads, started after this, inherit the mask.
	 */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	selfmetrics_init();

	cli_runtime_opts(o, &ro);
	cli_http_opts(o, &ro, &ho);
	rt = runtime_build(&ro, &d);
	diags_print(&d, stderr);
	diags_release(&d);
	if (!rt) {
		log_error("invalid configuration; not starting", NULL);
		goto out;
	}
	runtime_install(rt);
	httpd = http_start(&ho, &e);
	if (!httpd) {
		log_error("cannot start the HTTP server", "err", e.msg, NULL);
		goto out;
	}
	log_info("listening", "address", o->listen, "version", PGPULSE_VERSION,
		 NULL);
	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGHUP) {
			log_info("reloading on SIGHUP", NULL);
			runtime_reload(&ro);
			continue;
		}
		log_info("shutting down", "signal",
			 sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
		break;
	}
	rc = 0;
out:
	http_stop(httpd);
	runtime_clear();
	return rc;
}

int main(int argc, char **argv)
{
	struct cli o;
	struct err e = ERR_INIT;
	int rc;

	if (cli_parse(&o, argc, argv, &e) < 0) {
		fprintf(stderr, "pgpulse: %s\n", e.msg);
		cli_release(&o);
		return 2;
	}
	if (o.help) {
		cli_usage(stdout);
		cli_release(&o);
		return 0;
	}
	if (o.version) {
		printf("pgpulse %s (revision %s)\n", PGPULSE_VERSION,
		       PGPULSE_REVISION);
		cli_release(&o);
		return 0;
	}
	log_setup(o.log_level, o.log_format);
	bound_malloc();
	if (o.dry_run) {
		struct dryrun_opts dro;

		cli_dryrun_opts(&o, &dro);
		rc = dryrun_main(&dro);
	} else {
		rc = serve(&o);
	}
	cli_release(&o);
	return rc;
}
