// SPDX-License-Identifier: Apache-2.0
/* podtarget is the process of the pods the pod-target tests select, and a
 * uprobe target (bpfleet_target, a real, exported, non-inlined symbol;
 * built static: the same file runs in a pod and on the host).
 *
 *   podtarget serve   listens on UDP port 7777; each datagram holding a
 *                     number n (at most 1000) makes it call bpfleet_target
 *                     n times, then send n datagrams back to its sender.
 *   podtarget call n  calls bpfleet_target n times, and exits.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

volatile int sink;

__attribute__((noinline, used, visibility("default")))
int bpfleet_target(int i)
{
	sink += i;
	return sink;
}

static void calls(int n)
{
	for (int i = 0; i < n; i++)
		bpfleet_target(i);
}

static void stop(int sig)
{
	(void)sig;
	_exit(0);
}

static int serve(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(7777) };
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("podtarget: listen on udp 7777");
		return 1;
	}
	printf("podtarget: pid %d listening on udp 7777\n", getpid());
	fflush(stdout);
	for (;;) {
		char buf[16] = { 0 };
		struct sockaddr_in from;
		socklen_t len = sizeof(from);

		if (recvfrom(s, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &len) < 0)
			continue;
		int n = atoi(buf);
		if (n < 0 || n > 1000)
			continue;
		calls(n);
		for (int i = 0; i < n; i++)
			sendto(s, "pong", 4, 0, (struct sockaddr *)&from, len);
	}
}

int main(int argc, char **argv)
{
	/* PID 1 of its container: without a handler, SIGTERM would be
	 * ignored until the grace period ends. */
	signal(SIGTERM, stop);
	signal(SIGINT, stop);
	if (argc == 2 && strcmp(argv[1], "serve") == 0)
		return serve();
	if (argc == 3 && strcmp(argv[1], "call") == 0) {
		calls(atoi(argv[2]));
		return 0;
	}
	fprintf(stderr, "usage: podtarget serve | podtarget call n\n");
	return 2;
}
