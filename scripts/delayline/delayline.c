/*
 * delayline — an NFQUEUE delay line for generating test captures (the kernel here has no netem).
 *
 * It binds one nfnetlink_queue, holds every packet the kernel hands it for a fixed delay and
 * then accepts it, in arrival order. Selected packets are dropped instead (to inject loss).
 * Which packets reach the queue is decided by iptables/ip6tables NFQUEUE rules, e.g.
 *
 *   iptables  -A OUTPUT -p tcp --sport 40301 -j NFQUEUE --queue-num 1
 *   iptables  -A INPUT  -p tcp --dport 40301 -j NFQUEUE --queue-num 1
 *   delayline --queue 1 --delay-ms 100
 *
 * delays both directions of the flow from local port 40301 by 100 ms (RTT +200 ms).
 * Queue numbers are per network namespace: run delayline in the namespace of the rules.
 *
 * Usage:
 *   delayline --queue N [--delay-ms D] [drop rules...] [--verbose]
 *
 *   --queue N                      NFQUEUE number to bind (0..65535), required
 *   --delay-ms D                   hold every accepted packet D ms (0..60000, default 0)
 *   --drop-synack-once             drop the first TCP segment with SYN and ACK set
 *   --drop-first-data-from-port P  drop the first TCP segment carrying payload whose source
 *                                  port is P (once)
 *   --drop-repeats K               with --drop-first-data-from-port: also drop the next K
 *                                  segments from port P that carry the same sequence number
 *                                  (retransmissions of the dropped segment; default 0)
 *   --data-nth K                   with --drop-first-data-from-port: drop the K-th segment
 *                                  carrying payload from port P instead of the first (K >= 1,
 *                                  default 1; every segment with payload counts, retransmissions
 *                                  included), e.g. K=2 for a client's second flight when its
 *                                  OUTPUT packets are queued
 *   --drop-nth N                   drop the N-th packet seen on the queue (1-based; may be
 *                                  given up to 32 times)
 *   --verbose                      log every verdict to stderr
 *   --help                         print this usage
 *
 * Output (stderr): "delayline: ready queue=N ..." once the queue is bound (wait for it before
 * sending traffic), one line per dropped packet, and a summary on exit.
 * SIGTERM/SIGINT: every held packet is accepted at once, in order, then the program exits 0.
 *
 * Implementation: a single poll() loop over the netlink socket, a CLOCK_MONOTONIC timerfd armed
 * for the oldest held packet's due time, and a signalfd. Verdicts are issued out of band
 * (nfq_set_verdict by packet id) when a packet is due. Since the delay is constant, a FIFO keeps
 * due times ordered.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#define MAX_HELD 16384u
#define MAX_DROP_NTH 32
#define QUEUE_MAXLEN 8192u

struct held {
	uint32_t id;
	uint64_t due_ns;
};

struct config {
	int queue;
	long delay_ms;
	bool drop_synack_once;
	int drop_data_port;   /* -1: off */
	long drop_repeats;
	long data_nth;        /* which data segment from drop_data_port to drop (1-based) */
	unsigned long drop_nth[MAX_DROP_NTH];
	int n_drop_nth;
	bool verbose;
};

struct state {
	struct config cfg;
	struct nfq_q_handle *qh;
	struct held *ring;
	unsigned head, count;
	uint64_t seen, delayed, dropped, accepted;
	bool synack_dropped;
	bool data_dropped;        /* the (data_nth-th) data segment from drop_data_port dropped */
	uint32_t data_drop_seq;   /* its sequence number */
	long data_seen;           /* segments with payload from drop_data_port so far */
	long data_repeats_left;
	uint64_t start_ns;
};

static struct state S;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("delayline: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void logmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("delayline: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	fflush(stderr);
}

static void usage(FILE *f)
{
	fputs("usage: delayline --queue N [--delay-ms D] [--drop-synack-once]\n"
	      "                 [--drop-first-data-from-port P [--drop-repeats K] [--data-nth K]]\n"
	      "                 [--drop-nth N]...\n"
	      "                 [--verbose]\n", f);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Parses a whole string as a decimal integer in [lo, hi]; dies with a one-line error otherwise. */
static long parse_int(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	long v;
	if (s == NULL)
		die("%s needs a value", opt);
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		die("%s needs an integer in %ld..%ld, got '%s'", opt, lo, hi, s);
	return v;
}

static void parse_args(int argc, char **argv, struct config *c)
{
	memset(c, 0, sizeof *c);
	c->queue = -1;
	c->drop_data_port = -1;
	c->data_nth = 1;
	bool have_repeats = false, have_nth = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--queue") == 0) {
			c->queue = (int)parse_int(a, v, 0, 65535);
			i++;
		} else if (strcmp(a, "--delay-ms") == 0) {
			c->delay_ms = parse_int(a, v, 0, 60000);
			i++;
		} else if (strcmp(a, "--drop-synack-once") == 0) {
			c->drop_synack_once = true;
		} else if (strcmp(a, "--drop-first-data-from-port") == 0) {
			c->drop_data_port = (int)parse_int(a, v, 1, 65535);
			i++;
		} else if (strcmp(a, "--drop-repeats") == 0) {
			c->drop_repeats = parse_int(a, v, 0, 100);
			have_repeats = true;
			i++;
		} else if (strcmp(a, "--data-nth") == 0) {
			c->data_nth = parse_int(a, v, 1, 1000000);
			have_nth = true;
			i++;
		} else if (strcmp(a, "--drop-nth") == 0) {
			if (c->n_drop_nth >= MAX_DROP_NTH)
				die("--drop-nth may be given at most %d times", MAX_DROP_NTH);
			c->drop_nth[c->n_drop_nth++] = (unsigned long)parse_int(a, v, 1, LONG_MAX);
			i++;
		} else if (strcmp(a, "--verbose") == 0) {
			c->verbose = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else {
			die("unknown argument '%s' (see --help)", a);
		}
	}
	if (c->queue < 0)
		die("--queue N is required (see --help)");
	if (have_repeats && c->drop_data_port < 0)
		die("--drop-repeats needs --drop-first-data-from-port");
	if (have_nth && c->drop_data_port < 0)
		die("--data-nth needs --drop-first-data-from-port");
}

/* What the rules need to know about a packet. */
struct pkt {
	bool tcp;
	uint16_t sport, dport;
	uint8_t flags;
	uint32_t seq;
	unsigned payload;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
};

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

static void parse_pkt(const unsigned char *p, int len, struct pkt *k)
{
	memset(k, 0, sizeof *k);
	strcpy(k->src, "?");
	strcpy(k->dst, "?");
	if (len < 1)
		return;
	unsigned off, l4len;
	int proto;
	if ((p[0] >> 4) == 4) {
		if (len < 20)
			return;
		unsigned ihl = (p[0] & 0x0f) * 4u;
		unsigned tot = ((unsigned)p[2] << 8) | p[3];
		if (ihl < 20 || tot < ihl)
			return;
		inet_ntop(AF_INET, p + 12, k->src, sizeof k->src);
		inet_ntop(AF_INET, p + 16, k->dst, sizeof k->dst);
		if ((((unsigned)p[6] << 8 | p[7]) & 0x1fff) != 0)
			return; /* non-first fragment */
		proto = p[9];
		off = ihl;
		l4len = tot - ihl;
	} else if ((p[0] >> 4) == 6) {
		if (len < 40)
			return;
		inet_ntop(AF_INET6, p + 8, k->src, sizeof k->src);
		inet_ntop(AF_INET6, p + 24, k->dst, sizeof k->dst);
		unsigned plen = ((unsigned)p[4] << 8) | p[5];
		proto = p[6];
		off = 40;
		l4len = plen;
		/* Skip hop-by-hop, routing and destination options headers. */
		while ((proto == 0 || proto == 43 || proto == 60) && (int)off + 8 <= len) {
			unsigned hl = (p[off + 1] + 1u) * 8u;
			proto = p[off];
			off += hl;
			if (l4len < hl)
				return;
			l4len -= hl;
		}
	} else {
		return;
	}
	if (proto != IPPROTO_TCP || (int)off + 20 > len)
		return;
	const unsigned char *t = p + off;
	unsigned doff = (t[12] >> 4) * 4u;
	if (doff < 20 || l4len < doff)
		return;
	k->tcp = true;
	k->sport = (uint16_t)(t[0] << 8 | t[1]);
	k->dport = (uint16_t)(t[2] << 8 | t[3]);
	k->seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 | (uint32_t)t[6] << 8 | t[7];
	k->flags = t[13];
	k->payload = l4len - doff;
}

static void flag_str(uint8_t f, char *out)
{
	char *o = out;
	if (f & TH_SYN) *o++ = 'S';
	if (f & TH_FIN) *o++ = 'F';
	if (f & TH_RST) *o++ = 'R';
	if (f & TH_PSH) *o++ = 'P';
	if (f & TH_ACK) *o++ = '.';
	*o = '\0';
}

static void describe(const struct pkt *k, char *buf, size_t n)
{
	if (!k->tcp) {
		snprintf(buf, n, "non-TCP %s > %s", k->src, k->dst);
		return;
	}
	char fl[8];
	flag_str(k->flags, fl);
	bool v6 = strchr(k->src, ':') != NULL;
	snprintf(buf, n, v6 ? "TCP [%s]:%u > [%s]:%u [%s] seq %" PRIu32 " len %u"
			    : "TCP %s:%u > %s:%u [%s] seq %" PRIu32 " len %u",
		 k->src, k->sport, k->dst, k->dport, fl, k->seq, k->payload);
}

/* Returns the name of the rule that drops this packet, or NULL to keep it. */
static const char *drop_rule(const struct pkt *k, uint64_t nth)
{
	const struct config *c = &S.cfg;
	for (int i = 0; i < c->n_drop_nth; i++)
		if (c->drop_nth[i] == nth)
			return "nth";
	if (!k->tcp)
		return NULL;
	if (c->drop_synack_once && !S.synack_dropped &&
	    (k->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK)) {
		S.synack_dropped = true;
		return "synack-once";
	}
	if (c->drop_data_port >= 0 && k->sport == c->drop_data_port && k->payload > 0) {
		if (!S.data_dropped && ++S.data_seen == c->data_nth) {
			S.data_dropped = true;
			S.data_drop_seq = k->seq;
			S.data_repeats_left = c->drop_repeats;
			return "first-data";
		}
		if (S.data_dropped && S.data_repeats_left > 0 && k->seq == S.data_drop_seq) {
			S.data_repeats_left--;
			return "first-data-repeat";
		}
	}
	return NULL;
}

static double ms_since_start(void)
{
	return (double)(now_ns() - S.start_ns) / 1e6;
}

static void verdict(uint32_t id, uint32_t v)
{
	if (nfq_set_verdict(S.qh, id, v, 0, NULL) < 0)
		logmsg("nfq_set_verdict(id %" PRIu32 "): %s", id, strerror(errno));
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
	(void)qh; (void)msg; (void)data;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	if (ph == NULL)
		return 0;
	uint32_t id = ntohl(ph->packet_id);
	unsigned char *payload = NULL;
	int len = nfq_get_payload(nfa, &payload);
	struct pkt k;
	parse_pkt(payload, len, &k);
	uint64_t nth = ++S.seen;
	char desc[200];

	const char *rule = drop_rule(&k, nth);
	if (rule != NULL) {
		describe(&k, desc, sizeof desc);
		logmsg("t=%.3fms drop #%" PRIu64 " (%s) %s", ms_since_start(), nth, rule, desc);
		S.dropped++;
		verdict(id, NF_DROP);
		return 0;
	}
	if (S.cfg.verbose) {
		describe(&k, desc, sizeof desc);
		logmsg("t=%.3fms hold #%" PRIu64 " %ld ms %s", ms_since_start(), nth, S.cfg.delay_ms, desc);
	}
	if (S.cfg.delay_ms == 0 && S.count == 0) {
		S.accepted++;
		verdict(id, NF_ACCEPT);
		return 0;
	}
	if (S.count == MAX_HELD) {
		logmsg("hold buffer full (%u packets): accepting #%" PRIu64 " early", MAX_HELD, nth);
		S.accepted++;
		verdict(id, NF_ACCEPT);
		return 0;
	}
	unsigned tail = (S.head + S.count) % MAX_HELD;
	S.ring[tail].id = id;
	S.ring[tail].due_ns = now_ns() + (uint64_t)S.cfg.delay_ms * 1000000ull;
	S.count++;
	S.delayed++;
	return 0;
}

/* Accepts every held packet due at or before `limit` (UINT64_MAX: all of them), oldest first. */
static void release_due(uint64_t limit)
{
	while (S.count > 0 && S.ring[S.head].due_ns <= limit) {
		verdict(S.ring[S.head].id, NF_ACCEPT);
		S.accepted++;
		S.head = (S.head + 1) % MAX_HELD;
		S.count--;
	}
}

static void arm_timer(int tfd)
{
	struct itimerspec its;
	memset(&its, 0, sizeof its);
	if (S.count > 0) {
		uint64_t due = S.ring[S.head].due_ns;
		its.it_value.tv_sec = (time_t)(due / 1000000000ull);
		its.it_value.tv_nsec = (long)(due % 1000000000ull);
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	/* it_value all zero disarms the timer. */
	if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		die("timerfd_settime: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	parse_args(argc, argv, &S.cfg);
	S.ring = calloc(MAX_HELD, sizeof *S.ring);
	if (S.ring == NULL)
		die("out of memory");
	S.start_ns = now_ns();

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		die("sigprocmask: %s", strerror(errno));
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (tfd < 0)
		die("timerfd_create: %s", strerror(errno));

	/* Kernels since 3.8 ignore nfq_bind_pf/nfq_unbind_pf, so they are not called. */
	struct nfq_handle *h = nfq_open();
	if (h == NULL)
		die("nfq_open: %s (root and the nfnetlink_queue module are needed)", strerror(errno));
	S.qh = nfq_create_queue(h, (uint16_t)S.cfg.queue, on_packet, NULL);
	if (S.qh == NULL)
		die("cannot bind queue %d: %s (another program bound to it?)", S.cfg.queue, strerror(errno));
	if (nfq_set_mode(S.qh, NFQNL_COPY_PACKET, 0xffff) < 0)
		die("nfq_set_mode: %s", strerror(errno));
	if (nfq_set_queue_maxlen(S.qh, QUEUE_MAXLEN) < 0)
		logmsg("nfq_set_queue_maxlen: %s (keeping the kernel default)", strerror(errno));
	nfnl_rcvbufsiz(nfq_nfnlh(h), 4u << 20);
	int qfd = nfq_fd(h);

	logmsg("ready queue=%d delay=%ldms drop_synack_once=%d drop_first_data_from_port=%d "
	       "drop_repeats=%ld data_nth=%ld drop_nth=%d",
	       S.cfg.queue, S.cfg.delay_ms, S.cfg.drop_synack_once, S.cfg.drop_data_port,
	       S.cfg.drop_repeats, S.cfg.data_nth, S.cfg.n_drop_nth);

	static char buf[0x10000 + 4096] __attribute__((aligned));
	struct pollfd fds[3] = {
		{ .fd = qfd, .events = POLLIN },
		{ .fd = tfd, .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
	};
	bool stop = false;
	while (!stop) {
		if (poll(fds, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (fds[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
				logmsg("signal %u: accepting %u held packets and exiting", si.ssi_signo, S.count);
			stop = true;
		}
		if (fds[0].revents & POLLIN) {
			for (;;) {
				ssize_t n = recv(qfd, buf, sizeof buf, MSG_DONTWAIT);
				if (n < 0) {
					if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
						break;
					if (errno == ENOBUFS) {
						logmsg("netlink receive buffer overflow: the kernel dropped queued packets");
						continue;
					}
					die("recv: %s", strerror(errno));
				}
				nfq_handle_packet(h, buf, (int)n);
			}
		}
		if (fds[1].revents & POLLIN) {
			uint64_t expirations;
			if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
				die("timerfd read: %s", strerror(errno));
		}
		if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			die("netlink socket error");
		release_due(stop ? UINT64_MAX : now_ns());
		if (!stop)
			arm_timer(tfd);
	}
	nfq_destroy_queue(S.qh);
	nfq_close(h);
	logmsg("exit: seen=%" PRIu64 " delayed=%" PRIu64 " dropped=%" PRIu64 " accepted=%" PRIu64,
	       S.seen, S.delayed, S.dropped, S.accepted);
	free(S.ring);
	return 0;
}
