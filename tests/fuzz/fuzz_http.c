/*
 * libFuzzer harness: any bytes as an HTTP request to a running pgpulse
 * listener (libmicrohttpd's parser, then pgpulse's routes, basic auth,
 * content negotiation, gzip, the probe target parser and the read
 * deadline). The server has no targets, so no database is needed; a
 * sanitizer report in a server thread aborts the process as a finding.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "fuzz.h"
#include "http.h"
#include "log.h"
#include "runtime.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* user 'prom', password 'x', cost 4: "Authorization: Basic cHJvbTp4" */
static const char web_yaml[] =
	"basic_auth_users:\n"
	"  prom: "
	"$2b$04$ihdNY8hVwsi1Uh9khjVS0uJIG9/apIk2.8dcquaLkzznHHF.JLBja\n";
/* run from the repository: queries/ is there */
static const char config_yaml[] =
	"targets: []\n"
	"queries: ['%s/queries/server.yaml']\n"
	"probe: {allow: ['127\\.0\\.0\\.1:1']}\n"
	"auth_modules:\n"
	"  m: {type: userpass, userpass: {username: u, password_env: X}}\n";

static struct runtime_opts ropts;
static struct http_opts opts;
static unsigned short port;
static char listen_addr[32], web_path[64], config_path[64];

static unsigned short free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	close(fd);
	return ntohs(a.sin_port);
}

static void remove_files(void)
{
	unlink(web_path);
	unlink(config_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct diags d = DIAGS_INIT;
	struct err e = ERR_INIT;
	struct runtime *rt;
	char cwd[512], cfg[1024];

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	log_setup(LOG_ERROR, LOG_LOGFMT);
	if (fuzz_write_file(web_path, sizeof(web_path), "http-web",
			    (const uint8_t *)web_yaml, strlen(web_yaml)) < 0 ||
	    !getcwd(cwd, sizeof(cwd)))
		abort();
	atexit(remove_files);
	snprintf(cfg, sizeof(cfg), config_yaml, cwd);
	if (fuzz_write_file(config_path, sizeof(config_path), "http-config",
			    (const uint8_t *)cfg, strlen(cfg)) < 0)
		abort();
	port = free_port();
	snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%u", port);
	ropts.web_config = web_path;
	ropts.config_file = config_path;
	opts.listen = listen_addr;
	opts.web_config = web_path;
	opts.max_connections = 64;
	opts.read_timeout = 2;
	opts.reload = &ropts;
	rt = runtime_build(&ropts, &d);
	diags_print(&d, stderr);
	diags_release(&d);
	if (!rt)
		abort();
	runtime_install(rt);
	if (!http_start(&opts, &e)) {
		fprintf(stderr, "fuzz_http: %s\n", e.msg);
		abort();
	}
	return 0;
}

/* Send the request, close our side, read the answer until the server
 * closes (or 3 s pass: the read deadline is 2 s). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct pollfd pfd;
	char buf[65536];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return 0;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto out;
	if (size && send(fd, data, size, MSG_NOSIGNAL) < 0)
		goto out;
	shutdown(fd, SHUT_WR);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, 3000) > 0 && recv(fd, buf, sizeof(buf), 0) > 0)
		;
out:
	close(fd);
	return 0;
}
