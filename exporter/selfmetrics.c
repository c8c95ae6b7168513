/*
 * pgpulse_* metrics of the exporter itself and process_* metrics read from
 * /proc, as the Prometheus client libraries expose them.
 */
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "selfmetrics.h"
#include "clock.h"
#include "runtime.h"
#include "target.h"
#include "compat.h"

static atomic_ulong scrapes;
static double start_time; /* wall clock */

void selfmetrics_count_scrape(void)
{
	atomic_fetch_add(&scrapes, 1);
}

static atomic_ulong auth_failures;

void selfmetrics_count_auth_failure(void)
{
	atomic_fetch_add(&auth_failures, 1);
}

/* Process start time from /proc/self/stat and the boot time. */
static double process_start(void)
{
	char buf[1024], *p;
	unsigned long long ticks = 0, btime = 0;
	FILE *fp;
	size_t n;
	int field;

	fp = fopen("/proc/self/stat", "r");
	if (!fp)
		return clock_real();
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* fields after the command name, which may hold spaces */
	p = strrchr(buf, ')');
	if (!p)
		return clock_real();
	for (field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		ticks = strtoull(p + 1, NULL, 10);
	fp = fopen("/proc/stat", "r");
	if (fp) {
		while (fgets(buf, sizeof(buf), fp))
			if (!strncmp(buf, "btime ", 6))
				btime = strtoull(buf + 6, NULL, 10);
		fclose(fp);
	}
	if (!btime)
		return clock_real();
	return (double)btime + (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

void selfmetrics_init(void)
{
	start_time = process_start();
}

static void add1(struct mset *m, const char *name, enum metric_type type,
		 const char *help, double v)
{
	struct family *f = mset_family(m, name, type, help, NULL);

	if (f)
		mset_add(m, f, "", NULL, 0, v, NULL);
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void memory(double *rss, double *vsz)
{
	unsigned long long pages_v = 0, pages_r = 0;
	FILE *fp = fopen("/proc/self/statm", "r");
	long page = sysconf(_SC_PAGESIZE);

	*rss = *vsz = 0;
	if (!fp)
		return;
	if (fscanf(fp, "%llu %llu", &pages_v, &pages_r) == 2) {
		*vsz = (double)pages_v * (double)page;
		*rss = (double)pages_r * (double)page;
	}
	fclose(fp);
}

static double open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	double n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

void selfmetrics_add(struct mset *m)
{
	struct label build[] = {
		{(char *)"version", (char *)PGPULSE_VERSION},
		{(char *)"revision", (char *)PGPULSE_REVISION},
	};
	struct reload_stats rs;
	struct rlimit rl;
	struct family *f;
	double rss, vsz;

	f = mset_family(m, "pgpulse_build_info", METRIC_INFO,
			"The version of pgpulse serving this page.", NULL);
	if (f)
		mset_add(m, f, "", build, ARRAY_SIZE(build), 1, NULL);
	add1(m, "pgpulse_scrapes_total", METRIC_COUNTER,
	     "Requests for /metrics and /probe served.",
	     (double)atomic_load(&scrapes));
	runtime_reload_stats(&rs);
	add1(m, "pgpulse_config_last_reload_successful", METRIC_GAUGE,
	     "Whether the last configuration reload succeeded.",
	     rs.last_ok ? 1 : 0);
	add1(m, "pgpulse_config_last_reload_success_timestamp_seconds",
	     METRIC_GAUGE,
	     "When the configuration was last loaded successfully.",
	     rs.last_ok_at);
	add1(m, "pgpulse_config_reload_failures_total", METRIC_COUNTER,
	     "Reloads rejected because the new configuration was invalid.",
	     (double)rs.failed);
	add1(m, "pgpulse_web_auth_failures_total", METRIC_COUNTER,
	     "Requests with basic auth credentials that did not match.",
	     (double)atomic_load(&auth_failures));

	add1(m, "process_cpu_seconds_total", METRIC_COUNTER,
	     "Total user and system CPU time spent in seconds.", cpu_seconds());
	memory(&rss, &vsz);
	add1(m, "process_resident_memory_bytes", METRIC_GAUGE,
	     "Resident memory size in bytes.", rss);
	add1(m, "process_virtual_memory_bytes", METRIC_GAUGE,
	     "Virtual memory size in bytes.", vsz);
	add1(m, "process_open_fds", METRIC_GAUGE,
	     "Number of open file descriptors.", open_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		add1(m, "process_max_fds", METRIC_GAUGE,
		     "Maximum number of open file descriptors.",
		     (double)rl.rlim_cur);
	add1(m, "process_start_time_seconds", METRIC_GAUGE,
	     "Start time of the process since unix epoch in seconds.",
	     start_time);
}
