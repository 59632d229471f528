/* The "physical limit" reference of the benchmark harness in C: one thread,
 * one level-triggered epoll set, non-blocking sockets, one shared 64 KiB
 * read buffer; bytes are written straight back, and only what the socket
 * does not take is kept (per connection) until EPOLLOUT.
 * Build: gcc -O2 -o cepoll echo.c; run: cepoll 127.0.0.1:7000 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
	char *pending;
	size_t len, cap;
};

static struct conn *conns;
static int nconns;

static void drop(int fd) {
	close(fd);
	free(conns[fd].pending);
	memset(&conns[fd], 0, sizeof conns[fd]);
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: %s host:port\n", argv[0]);
		return 2;
	}
	char host[64];
	const char *colon = strrchr(argv[1], ':');
	if (!colon || colon - argv[1] >= (long)sizeof host) return 2;
	memcpy(host, argv[1], colon - argv[1]);
	host[colon - argv[1]] = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return 2;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 4096)) {
		perror("listen");
		return 1;
	}
	nconns = 1 << 20;
	conns = calloc(nconns, sizeof *conns);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	static char buf[64 << 10];
	struct epoll_event events[256];
	for (;;) {
		int n = epoll_wait(ep, events, 256, -1);
		if (n < 0) {
			if (errno == EINTR) continue;
			perror("epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd == lfd) {
				int nfd;
				while ((nfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					if (nfd >= nconns) {
						close(nfd);
						continue;
					}
					setsockopt(nfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					struct epoll_event cev = {.events = EPOLLIN, .data.fd = nfd};
					epoll_ctl(ep, EPOLL_CTL_ADD, nfd, &cev);
				}
				continue;
			}
			struct conn *c = &conns[fd];
			if ((events[i].events & EPOLLOUT) && c->len > 0) {
				ssize_t w = write(fd, c->pending, c->len);
				if (w < 0 && errno != EAGAIN) {
					drop(fd);
					continue;
				}
				if (w > 0) {
					memmove(c->pending, c->pending + w, c->len - w);
					c->len -= w;
				}
				if (c->len == 0) {
					struct epoll_event cev = {.events = EPOLLIN, .data.fd = fd};
					epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
				}
				continue;
			}
			if (c->len > 0) continue;
			ssize_t r = read(fd, buf, sizeof buf);
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN) continue;
				drop(fd);
				continue;
			}
			ssize_t w = write(fd, buf, r);
			if (w < 0 && errno != EAGAIN) {
				drop(fd);
				continue;
			}
			if (w < 0) w = 0;
			if (w < r) {
				size_t rest = r - w;
				if (c->cap < rest) {
					c->pending = realloc(c->pending, rest);
					c->cap = rest;
				}
				memcpy(c->pending, buf + w, rest);
				c->len = rest;
				struct epoll_event cev = {.events = EPOLLOUT, .data.fd = fd};
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
			}
		}
	}
}
