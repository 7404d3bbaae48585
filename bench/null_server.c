/*
 * A Redis-protocol server that does nothing: it answers +OK to every request
 * it receives (one per '*' in what it reads, which holds for redis-benchmark's
 * SET requests), keeps no data and writes no file. bench/ceiling.sh measures
 * it beside Redis and inmem: a real server does more work per request than
 * this one, so, within the noise between rounds, its rate is what the
 * machine and the client allow.
 *
 * Usage: null_server PORT   (listens on 127.0.0.1)
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define EVENTS 256
#define BUFFER 65536

static void watch(int epoll, int fd) {
    struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
    fcntl(fd, F_SETFL, O_NONBLOCK);
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int one = 1;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((unsigned short)atoi(argv[1])),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(listener, 512) != 0) {
        perror("null_server");
        return 1;
    }
    int epoll = epoll_create1(0);
    watch(epoll, listener);
    static char input[BUFFER], output[BUFFER];
    struct epoll_event ready[EVENTS];
    for (;;) {
        int count = epoll_wait(epoll, ready, EVENTS, -1);
        for (int i = 0; i < count; i++) {
            int fd = ready[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept(listener, NULL, NULL)) >= 0) {
                    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    watch(epoll, client);
                }
                continue;
            }
            ssize_t got = read(fd, input, sizeof input);
            if (got <= 0) {
                close(fd);
                continue;
            }
            size_t length = 0;
            for (ssize_t k = 0; k < got && length + 5 <= sizeof output; k++) {
                if (input[k] == '*') {
                    memcpy(output + length, "+OK\r\n", 5);
                    length += 5;
                }
            }
            if (length > 0 && write(fd, output, length) < 0) {
                close(fd);
            }
        }
    }
}
