// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
//
// eti_xdp: steer ETI market-data flows and order-session return traffic to
// an AF_XDP socket.
//
// For every frame on the interface: parse Ethernet -> IPv4 -> UDP with a
// bounds check before every read (the verifier insists, and so do we: a
// truncated or hostile frame must never make us read past data_end). If the
// IPv4 destination address and UDP destination port are in `eti_flows`
// (written by user space), redirect the frame to the AF_XDP socket bound to
// this RX queue through the `eti_xsks` XSKMAP. Everything else goes to the
// kernel (XDP_PASS): ARP, IPv6, other ports, fragments. A frame that matches
// one of our flows but whose IP/UDP lengths are inconsistent is counted and
// dropped, so the receiver never sees a malformed datagram.
//
// TCP: the order session's user-space stack (smoltcp) owns one connection per
// venue. Its return traffic is matched by the full 5-tuple in `eti_sessions`
// (remote address/port as source, our address/port as destination) and
// redirected the same way; every other TCP segment, including ones for other
// ports of the same peer, stays with the kernel. ARP is never redirected: the
// kernel answers for the interface address that smoltcp shares.
//
// The map key/value layouts below are mirrored in Rust by
// kernel-bypass/src/abi.rs (with a size test); change both together.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// Key of `eti_flows`: IPv4 destination address and UDP destination port, both
// in network byte order exactly as they appear on the wire, so the program
// compares without byte swaps. `pad` must be zero.
struct eti_flow_key {
	__u32 daddr;
	__u16 dport;
	__u16 pad;
};

// Key of `eti_sessions`: the 5-tuple of a segment arriving for one of our
// user-space TCP connections, every field as it sits in the headers (network
// byte order). `saddr`/`sport` are the remote end, `daddr`/`dport` ours.
// `pad` must be zero.
struct eti_session_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

// Indices of `eti_counters` (a per-CPU array of __u64).
enum eti_counter {
	ETI_CNT_REDIRECTED = 0, // handed to an AF_XDP socket
	ETI_CNT_PASSED = 1,     // given to the kernel stack
	ETI_CNT_DROPPED = 2,    // matched a flow but malformed
	ETI_CNT_NO_SOCKET = 3,  // matched a flow, no socket on this queue (passed)
	ETI_CNT_MAX = 4,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct eti_flow_key);
	__type(value, __u32); // 1 = redirect; other values reserved
} eti_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct eti_session_key);
	__type(value, __u32); // 1 = redirect; other values reserved
} eti_sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64); // indexed by RX queue
	__type(key, __u32);
	__type(value, __u32);
} eti_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ETI_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} eti_counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&eti_counters, &which);
	if (c)
		*c += 1; // per-CPU slot: no atomic needed
}

static __always_inline int pass(void)
{
	count(ETI_CNT_PASSED);
	return XDP_PASS;
}

// Redirect to the socket of this RX queue; if none is bound, the fallback
// action (XDP_PASS in the low bits of flags) keeps the packet.
static __always_inline int to_socket(struct xdp_md *ctx)
{
	long rc = bpf_redirect_map(&eti_xsks, ctx->rx_queue_index, XDP_PASS);
	if (rc == XDP_REDIRECT)
		count(ETI_CNT_REDIRECTED);
	else
		count(ETI_CNT_NO_SOCKET);
	return (int)rc;
}

// A TCP segment: ours only if its 5-tuple is a session user space installed.
// For ours, header lengths that disagree with the frame are dropped (smoltcp
// re-checks everything, this only keeps junk off the ring).
static __always_inline int tcp_session(struct xdp_md *ctx, struct iphdr *ip, void *data_end)
{
	__u32 ihl_bytes = (__u32)ip->ihl * 4;
	struct tcphdr *tcp = (void *)ip + ihl_bytes;
	if ((void *)(tcp + 1) > data_end)
		return pass();
	struct eti_session_key key = {
		.saddr = ip->saddr,
		.daddr = ip->daddr,
		.sport = tcp->source,
		.dport = tcp->dest,
		.proto = IPPROTO_TCP,
		.pad = {0, 0, 0},
	};
	__u32 *action = bpf_map_lookup_elem(&eti_sessions, &key);
	if (!action || *action != 1)
		return pass();
	__u32 ip_len = bpf_ntohs(ip->tot_len);
	__u32 tcp_hlen = (__u32)tcp->doff * 4;
	__u64 frame_ip_bytes = (__u64)(data_end - (void *)ip);
	if (tcp_hlen < sizeof(struct tcphdr) || ip_len < ihl_bytes + tcp_hlen ||
	    ip_len > frame_ip_bytes) {
		count(ETI_CNT_DROPPED);
		return XDP_DROP;
	}
	return to_socket(ctx);
}

SEC("xdp")
int eti_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return pass(); // truncated frame: let the kernel discard it
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return pass(); // ARP, IPv6, VLAN...: not ours

	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return pass();
	if (ip->version != 4 || ip->ihl < 5)
		return pass();
	// Any fragment (MF set or non-zero offset): the L4 header may be absent
	// or belong to another datagram; the kernel reassembles, we do not.
	if (ip->frag_off & bpf_htons(0x3fff))
		return pass();
	if (ip->protocol == IPPROTO_TCP)
		return tcp_session(ctx, ip, data_end);
	if (ip->protocol != IPPROTO_UDP)
		return pass();

	__u32 ihl_bytes = (__u32)ip->ihl * 4;
	struct udphdr *udp = (void *)ip + ihl_bytes;
	if ((void *)(udp + 1) > data_end)
		return pass();

	struct eti_flow_key key = {
		.daddr = ip->daddr,
		.dport = udp->dest,
		.pad = 0,
	};
	__u32 *action = bpf_map_lookup_elem(&eti_flows, &key);
	if (!action || *action != 1)
		return pass();

	// Our flow from here on: a frame the receiver could misparse is dropped.
	__u32 ip_len = bpf_ntohs(ip->tot_len);
	__u32 udp_len = bpf_ntohs(udp->len);
	__u64 frame_ip_bytes = (__u64)(data_end - (void *)ip);
	if (ip_len < ihl_bytes + sizeof(struct udphdr) || ip_len > frame_ip_bytes ||
	    udp_len < sizeof(struct udphdr) || udp_len != ip_len - ihl_bytes) {
		count(ETI_CNT_DROPPED);
		return XDP_DROP;
	}
	return to_socket(ctx);
}

char _license[] SEC("license") = "GPL";
