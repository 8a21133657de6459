// Verilator test bench for the generated risk_gate.v: replays golden-model
// vectors (written by `eti-hdl vectors`) and checks every decision, every
// control answer, the fixed latency and the pass-through bytes.
//
// Vector file: records, little-endian:
//   'M' firm:u8 len:u8 bytes[len] expected_code:u8
//   'W' addr:u16 value:u64 expected_err:u8
//   'R' addr:u16 expected_err:u8 expected_value:u64
#include "Vrisk_gate.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <vector>

static const int LATENCY = 8;  // eti_hdl::rtl::LATENCY (a unit test holds them equal)
// cycles a control access may wait for ready and for its answer: OT_CLEAR sweeps
// the 4 096-entry order table with the port busy
static const int CTL_GUARD = 1 << 16;

struct Beat { uint8_t firm; bool sop, eop; uint8_t len; uint64_t data; };
struct Expect { uint8_t code; };

static Vrisk_gate* g;
static uint64_t cycle = 0;
static uint64_t mismatches = 0, orders = 0, controls = 0, accepted = 0;
static std::deque<uint64_t> pending;     // cycle of each taken last beat
static std::deque<uint8_t> expected;     // decision codes in order
static std::deque<Beat> sent;            // beats awaiting pass-through check
static int min_lat = 1 << 30, max_lat = 0;

static void note(const char* what, uint64_t a, uint64_t b) {
    if (mismatches < 10) fprintf(stderr, "MISMATCH %s: expected %llu got %llu (cycle %llu)\n", what,
                                 (unsigned long long)a, (unsigned long long)b, (unsigned long long)cycle);
    mismatches++;
}

static void idle_inputs() {
    g->in_valid = 0; g->in_sop = 0; g->in_eop = 0; g->in_len = 0; g->in_data = 0; g->in_firm = 0;
    g->ctl_valid = 0; g->ctl_write = 0; g->ctl_addr = 0; g->ctl_wdata = 0;
}

// One clock edge, then look at the outputs of the new cycle.
static void edge() {
    g->clock = 1; g->eval();
    g->clock = 0; g->eval();
    cycle++;
    if (g->out_valid) {
        if (sent.empty()) { note("unexpected output beat", 0, 1); }
        else {
            Beat b = sent.front(); sent.pop_front();
            uint64_t mask = b.len >= 8 ? ~0ULL : (b.len == 0 ? 0 : (~0ULL << (64 - 8 * b.len)));
            if ((g->out_data & mask) != (b.data & mask) || g->out_sop != b.sop || g->out_eop != b.eop || g->out_len != b.len)
                note("pass-through beat", b.data, g->out_data);
        }
    }
    if (g->dec_valid) {
        if (expected.empty()) { note("unexpected decision", 0, g->dec_reason); return; }
        uint8_t e = expected.front(); expected.pop_front();
        uint64_t t = pending.empty() ? 0 : pending.front();
        if (!pending.empty()) pending.pop_front();
        int lat = (int)(cycle - t);
        if (lat < min_lat) min_lat = lat;
        if (lat > max_lat) max_lat = lat;
        if (lat != LATENCY) note("latency", LATENCY, lat);
        if (g->dec_reason != e) note("decision code", e, g->dec_reason);
        if ((g->dec_accept != 0) != (e == 0)) note("accept flag", e == 0, g->dec_accept);
        if (e == 0) accepted++;
    }
}

static void stream(std::vector<Beat>& beats) {
    size_t i = 0;
    while (i < beats.size()) {
        const Beat& b = beats[i];
        g->in_valid = 1; g->in_sop = b.sop; g->in_eop = b.eop; g->in_len = b.len; g->in_data = b.data; g->in_firm = b.firm;
        g->eval();
        if (g->in_ready) {
            sent.push_back(b);
            if (b.eop) pending.push_back(cycle);
            i++;
        }
        edge();
    }
    idle_inputs(); g->eval();
    for (int k = 0; k < LATENCY + 2; k++) edge();
    if (!expected.empty()) { note("missing decisions", 0, expected.size()); expected.clear(); }
    beats.clear();
}

static void control(bool write, uint16_t addr, uint64_t value, bool& err, uint64_t& rdata) {
    g->ctl_valid = 1; g->ctl_write = write; g->ctl_addr = addr; g->ctl_wdata = value;
    g->eval();
    int guard = 0;
    while (!g->ctl_ready && guard++ < CTL_GUARD) edge();
    edge();
    g->ctl_valid = 0; g->eval();
    guard = 0;
    while (!g->ctl_rvalid && guard++ < CTL_GUARD) edge();
    err = g->ctl_err; rdata = g->ctl_rdata;
    idle_inputs(); g->eval();
}

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    if (argc < 2) { fprintf(stderr, "usage: %s VECTORS\n", argv[0]); return 2; }
    FILE* f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    g = new Vrisk_gate;
    idle_inputs(); g->clock = 0; g->eval();
    for (int k = 0; k < 4; k++) edge();
    std::vector<Beat> batch;
    int c;
    uint8_t buf[300];
    while ((c = fgetc(f)) != EOF) {
        if (c == 'M') {
            uint8_t firm = fgetc(f), len = fgetc(f);
            if (fread(buf, 1, len, f) != len) break;
            uint8_t code = fgetc(f);
            if (len == 0) {
                batch.push_back({firm, true, true, 0, 0});
            } else {
                int n = (len + 7) / 8;
                for (int k = 0; k < n; k++) {
                    uint64_t w = 0; int bl = (k + 1 < n) ? 8 : len - 8 * k;
                    for (int j = 0; j < 8; j++) w = (w << 8) | (j < bl ? buf[8 * k + j] : 0);
                    batch.push_back({firm, k == 0, k + 1 == n, (uint8_t)bl, w});
                }
            }
            expected.push_back(code);
            orders++;
            if (expected.size() >= 256) stream(batch);
        } else if (c == 'W' || c == 'R') {
            if (!expected.empty()) stream(batch);
            uint16_t addr; uint64_t value = 0, ev = 0; uint8_t eerr;
            if (fread(&addr, 2, 1, f) != 1) break;
            if (c == 'W') { if (fread(&value, 8, 1, f) != 1) break; eerr = fgetc(f); }
            else { eerr = fgetc(f); if (fread(&ev, 8, 1, f) != 1) break; }
            bool err; uint64_t rd;
            control(c == 'W', addr, value, err, rd);
            controls++;
            if (err != (eerr != 0)) note("control err", eerr, err);
            if (c == 'R' && !err && rd != ev) note("control read", ev, rd);
        } else {
            fprintf(stderr, "bad record %d\n", c); return 2;
        }
    }
    if (!expected.empty()) stream(batch);
    fclose(f);
    printf("orders %llu accepted %llu control %llu cycles %llu latency %d..%d mismatches %llu\n",
           (unsigned long long)orders, (unsigned long long)accepted, (unsigned long long)controls,
           (unsigned long long)cycle, min_lat, max_lat, (unsigned long long)mismatches);
    g->final();
    delete g;
    return mismatches == 0 ? 0 : 1;
}
