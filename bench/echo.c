/*
 * tcp-echo backend for the benchmark: the istio tcp-echo protocol (dataplane/README.md) in a
 * single-threaded epoll loop, so every peer (gateway, HAProxy, nginx, direct) is measured
 * against the same cheap backend and the backend does not eat the proxies' CPU on 2 cores.
 *
 *   echo [--report] PORT PREFIX [ADDR...]
 *                                listens on ADDR:PORT for each loopback ADDR (default
 *                                127.0.0.1; PORT 0: the OS picks, for one ADDR) and prints
 *                                {"listening":"ADDR:PORT",...} on stdout once ready.
 *
 * --report (the drain check): one JSON line per connection as it ends, naming it by the first
 * word of its first line: {"conn":"c00017.0","in":BYTES,"answered":BYTES,"partial":BYTES,
 * "end":"fin"|"reset"|"error","t":EPOCH_MS}. `answered`: bytes of complete lines (each got its
 * reply); `partial`: a trailing line cut by the EOF (no reply, as the protocol says); `end`:
 * "fin" when the peer's FIN ended it and every reply went out, "reset" on ECONNRESET/EPIPE.
 *
 * Several addresses give every proxy more 4-tuple space towards the backend: Linux allows about
 * 14,100 new connections/s per (source, destination) pair on loopback (see loadgen.c).
 *
 * Per complete line L (split on \n only) it writes PREFIX + " " + L; a trailing partial line at
 * EOF gets no reply; on EOF it flushes what is owed and closes. Reading stops while replies
 * cannot be written (backpressure). No per-line logging: that would dominate the cost.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchCommon.h"

#define MAX_LINE (4 * 1024 * 1024)
#define MAX_ADDRS 16
#define ID_MAX 24

struct conn {
  char *in;  /* partial line */
  size_t in_len, in_cap;
  char *out; /* replies not yet written */
  size_t out_off, out_len, out_cap;
  int eof;
  int open;
  /* --report only */
  unsigned long long bytes_in, answered;
  char id[ID_MAX];
  int id_len, id_done;
};

static struct conn *conns;
static int conns_cap;
static int ep;
static const char *prefix;
static size_t prefix_len;
static int report;

/* --report: one line for a connection that ends now; `end` says how. */
static void report_end(int fd, const char *end) {
  struct conn *c = &conns[fd];
  printf("{\"conn\":\"%.*s\",\"in\":%llu,\"answered\":%llu,\"partial\":%llu,\"end\":\"%s\","
         "\"t\":%.3f}\n",
         c->id_len, c->id, c->bytes_in, c->answered, (unsigned long long)c->in_len, end, wall_ms());
  fflush(stdout);
}

/* --report: the first word of the first line names the connection. */
static void note_id(struct conn *c, const char *data, size_t n) {
  for (size_t i = 0; i < n && !c->id_done; i++) {
    char ch = data[i];
    int word = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '.' || ch == '-' || ch == '_';
    if (!word || c->id_len == ID_MAX) c->id_done = 1;
    else c->id[c->id_len++] = ch;
  }
}

static void drop_as(int fd, const char *end) {
  if (report) report_end(fd, end);
  struct conn *c = &conns[fd];
  free(c->in);
  free(c->out);
  memset(c, 0, sizeof *c);
  close(fd);
}

static void drop(int fd) { drop_as(fd, "error"); }

static int grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t cap2 = *cap ? *cap : 256;
  while (cap2 < need) cap2 *= 2;
  char *p = realloc(*buf, cap2);
  if (!p) return -1;
  *buf = p;
  *cap = cap2;
  return 0;
}

static int queue_reply(struct conn *c, const char *line, size_t len) {
  if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
  if (grow(&c->out, &c->out_cap, c->out_len + prefix_len + 1 + len) < 0) return -1;
  memcpy(c->out + c->out_len, prefix, prefix_len);
  c->out[c->out_len + prefix_len] = ' ';
  memcpy(c->out + c->out_len + prefix_len + 1, line, len);
  c->out_len += prefix_len + 1 + len;
  return 0;
}

/* Returns 1 when everything owed is written, 0 when blocked, -1 on error. */
static int flush(int fd) {
  struct conn *c = &conns[fd];
  while (c->out_off < c->out_len) {
    ssize_t n = send(fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    c->out_off += (size_t)n;
  }
  c->out_off = c->out_len = 0;
  return 1;
}

static void arm(int fd, int want_write) {
  struct epoll_event ev = {.events = want_write ? EPOLLOUT : EPOLLIN, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void on_readable(int fd) {
  static char buf[65536];
  struct conn *c = &conns[fd];
  for (int rounds = 0; rounds < 16; rounds++) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN) return;
      drop_as(fd, errno == ECONNRESET ? "reset" : "error");
      return;
    }
    if (n == 0) {
      c->eof = 1;
      int f = flush(fd);
      if (f == 1) drop_as(fd, "fin");
      else if (f < 0) drop_as(fd, errno == EPIPE || errno == ECONNRESET ? "reset" : "error");
      else arm(fd, 1);
      return;
    }
    if (report) {
      c->bytes_in += (unsigned long long)n;
      if (!c->id_done) note_id(c, buf, (size_t)n);
    }
    size_t start = 0;
    for (size_t i = 0; i < (size_t)n; i++) {
      if (buf[i] != '\n') continue;
      int rc;
      if (c->in_len) {
        if (grow(&c->in, &c->in_cap, c->in_len + (i + 1 - start)) < 0) {
          drop(fd);
          return;
        }
        memcpy(c->in + c->in_len, buf + start, i + 1 - start);
        rc = queue_reply(c, c->in, c->in_len + (i + 1 - start));
        c->in_len = 0;
      } else {
        rc = queue_reply(c, buf + start, i + 1 - start);
      }
      if (rc < 0) {
        drop(fd);
        return;
      }
      start = i + 1;
    }
    if (start < (size_t)n) {
      size_t rest = (size_t)n - start;
      if (c->in_len + rest > MAX_LINE || grow(&c->in, &c->in_cap, c->in_len + rest) < 0) {
        drop(fd);
        return;
      }
      memcpy(c->in + c->in_len, buf + start, rest);
      c->in_len += rest;
    }
    if (report) c->answered = c->bytes_in - c->in_len;
    int f = flush(fd);
    if (f < 0) {
      drop(fd);
      return;
    }
    if (f == 0) {
      arm(fd, 1); /* backpressure: stop reading until the replies are out */
      return;
    }
  }
}

static void on_writable(int fd) {
  int f = flush(fd);
  if (f < 0) drop_as(fd, errno == EPIPE || errno == ECONNRESET ? "reset" : "error");
  else if (f == 1 && conns[fd].eof) drop_as(fd, "fin");
  else if (f == 1) arm(fd, 0);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--report") == 0) {
    report = 1;
    argv[1] = argv[0];
    argv++;
    argc--;
  }
  if (argc < 3 || argc > 3 + MAX_ADDRS) {
    fprintf(stderr, "usage: echo [--report] PORT PREFIX [127.x.y.z...]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  prefix = argv[2];
  prefix_len = strlen(prefix);
  conns_cap = raise_open_files(1048576);
  conns = calloc((size_t)conns_cap, sizeof *conns);
  stop_on_signals();

  ep = epoll_create1(EPOLL_CLOEXEC);
  int one = 1;
  int nlisteners = argc > 3 ? argc - 3 : 1;
  for (int i = 0; i < nlisteners; i++) {
    const char *host = argc > 3 ? argv[3 + i] : "127.0.0.1";
    struct sockaddr_in addr;
    if (loopback_address("echo", host, &addr) < 0) {
      fprintf(stderr, "echo: %s is not an IPv4 address\n", host);
      return 2;
    }
    addr.sin_port = htons((uint16_t)port);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t alen = sizeof addr;
    if (!conns || ls < 0 || ls >= conns_cap || bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(ls, 4096) < 0 || getsockname(ls, (struct sockaddr *)&addr, &alen) < 0) {
      perror("echo: listen");
      return 1;
    }
    conns[ls].open = -1; /* marks a listener */
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
    printf("{\"listening\":\"%s:%d\",\"prefix\":\"%s\"}\n", host, ntohs(addr.sin_port), prefix);
  }
  fflush(stdout);

  struct epoll_event evs[256];
  while (!stop_flag) {
    int n = epoll_wait(ep, evs, 256, 500);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (conns[fd].open < 0) {
        for (int k = 0; k < 64; k++) {
          int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          if (cfd >= conns_cap) {
            close(cfd);
            continue;
          }
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conns[cfd].open = 1;
          struct epoll_event ev = {.events = EPOLLIN, .data.fd = cfd};
          epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
        }
        continue;
      }
      if (conns[fd].open != 1) continue;
      if (evs[i].events & EPOLLOUT) on_writable(fd);
      else on_readable(fd);
    }
  }
  return 0;
}
