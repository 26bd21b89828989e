// Thin Node-API surface over Capture (watcher binding.cc shape): argument checks and exports.
// Errors cross into JS here only, as thrown Errors with a `code`. No C++ exception is used.
//
//   open({device, filter, snaplen, bufferSize, promisc, timeoutMs, ringSize,
//         kernelFilter?: {mode: "off"|"auto"|"ebpf"|"classic", flowPackets, flowTimeMs, maxFlows}})
//        -> {handle, ring: ArrayBuffer, index: ArrayBuffer, flows: ArrayBuffer, linkType, nanosecond,
//            filterMode: "ebpf"|"classic"|"off", filterReason: string|null,
//            faultInMs: time taken to fault the ring, index and flow table in before activation}
//   markDone(handle, ipVersion, client: Uint8Array, clientPort, server: Uint8Array, serverPort)
//        -> true when the flow's filter entry was marked done (false: no entry, or no eBPF filter)
//   filterStats(handle) -> {...eBPF filter counters} (zeros without the eBPF filter)
//   widen(handle, ipVersion, addr: Uint8Array, prefixLen, durationMs, maxBytes)
//        -> "" when the network passes in full from now on, else why not (one line)
//   narrow(handle, ipVersion, addr: Uint8Array, prefixLen) -> true when an entry was deleted
//   widened(handle) -> [{cidr, msLeft, bytesLeft, packets, bytes, state}] (lapsed entries listed
//        once more, then deleted)
//   positions(handle, Float64Array(3))  writes [head, tail, newest ns] (abs byte positions)
//   stats(handle) -> {...counters}
//   stop(handle)                         stops the thread; the ring stays readable
//   interfaces() -> "lo, eth0, ..."
//   flowHash(bytes: Uint8Array, linkType) -> the ring header's flow hash of one packet (FlowHash),
//        for the C/TypeScript parity test; not used on the capture path
#include <node_api.h>  // napi_* (Node-API, C)

#include <arpa/inet.h>  // inet_ntop

#include <cstring>  // memset
#include <string>  // std::string
#include <vector>  // the widened-network listing

#include "capture.h"
#include "flow_hash.h"  // FlowHash
#include "notify.h"  // SdNotify

namespace slowshake {
namespace {

#define CHECK_NAPI(call)                                       \
  do {                                                         \
    if ((call) != napi_ok) {                                   \
      napi_throw_error(env, "SLOWSHAKE_ERR_NAPI", #call);      \
      return nullptr;                                          \
    }                                                          \
  } while (0)

struct Handle {
  std::unique_ptr<Capture> capture;
};

bool GetProp(napi_env env, napi_value obj, const char* name, napi_value* out) {
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return false;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, name, out) != napi_ok) return false;
  napi_typeof(env, *out, &t);
  return t != napi_undefined && t != napi_null;
}

bool GetString(napi_env env, napi_value obj, const char* name, std::string* out) {
  napi_value v;
  if (!GetProp(env, obj, name, &v)) return false;
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return false;
  out->resize(len);
  napi_get_value_string_utf8(env, v, out->data(), len + 1, &len);
  return true;
}

bool GetNumber(napi_env env, napi_value obj, const char* name, double* out) {
  napi_value v;
  return GetProp(env, obj, name, &v) && napi_get_value_double(env, v, out) == napi_ok;
}

bool GetBool(napi_env env, napi_value obj, const char* name, bool* out) {
  napi_value v;
  return GetProp(env, obj, name, &v) && napi_get_value_bool(env, v, out) == napi_ok;
}

Handle* GetHandle(napi_env env, napi_value v) {
  void* p = nullptr;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, "SLOWSHAKE_ERR_ARG", "expected a capture handle");
    return nullptr;
  }
  return static_cast<Handle*>(p);
}

void FinalizeHandle(napi_env, void* data, void*) { delete static_cast<Handle*>(data); }
void FinalizeStorage(napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<RingStorage>*>(hint); }

napi_value SetNumber(napi_env env, napi_value obj, const char* name, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, name, n);
  return obj;
}

napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 1) {
    napi_throw_type_error(env, "SLOWSHAKE_ERR_ARG", "open: expected an options object");
    return nullptr;
  }
  CaptureOptions o;
  double d;
  if (!GetString(env, argv[0], "device", &o.device) || o.device.empty()) {
    napi_throw_type_error(env, "SLOWSHAKE_ERR_ARG", "open: options.device is required");
    return nullptr;
  }
  GetString(env, argv[0], "filter", &o.filter);
  if (GetNumber(env, argv[0], "snaplen", &d)) o.snaplen = static_cast<int>(d);
  if (GetNumber(env, argv[0], "bufferSize", &d)) o.buffer_bytes = static_cast<int>(d);
  if (GetNumber(env, argv[0], "timeoutMs", &d)) o.timeout_ms = static_cast<int>(d);
  if (GetNumber(env, argv[0], "ringSize", &d)) o.ring_bytes = static_cast<uint64_t>(d);
  GetBool(env, argv[0], "promisc", &o.promisc);
  napi_value kf;
  if (GetProp(env, argv[0], "kernelFilter", &kf)) {
    std::string mode;
    GetString(env, kf, "mode", &mode);
    using Mode = CaptureOptions::FilterMode;
    if (mode == "off") o.filter_mode = Mode::kOff;
    else if (mode == "auto") o.filter_mode = Mode::kAuto;
    else if (mode == "ebpf") o.filter_mode = Mode::kEbpf;
    else if (mode == "classic") o.filter_mode = Mode::kClassic;
    else {
      napi_throw_range_error(env, "SLOWSHAKE_ERR_ARG", "open: kernelFilter.mode must be off, auto, ebpf or classic");
      return nullptr;
    }
    double fp = 128, ft = 10000, mf = 65536;
    GetNumber(env, kf, "flowPackets", &fp);
    GetNumber(env, kf, "flowTimeMs", &ft);
    GetNumber(env, kf, "maxFlows", &mf);
    if (!(fp >= 1 && fp <= 4e9 && ft >= 1 && ft <= 1e10 && mf >= 1 && mf <= 1 << 28)) {
      napi_throw_range_error(env, "SLOWSHAKE_ERR_ARG", "open: kernelFilter flowPackets, flowTimeMs, maxFlows out of range");
      return nullptr;
    }
    o.kernel.flow_packets = static_cast<uint32_t>(fp);
    o.kernel.flow_time_ns = static_cast<uint64_t>(ft) * 1000000ull;
    o.kernel.max_flows = static_cast<uint32_t>(mf);
  }
  // Options are normalised in TypeScript; these are invariants, not user messages.
  if (o.ring_bytes < (1u << 20) || o.ring_bytes % 8 != 0 || o.snaplen < 64 || o.snaplen > 262144) {
    napi_throw_range_error(env, "SLOWSHAKE_ERR_ARG", "open: ringSize must be >= 1 MiB and a multiple of 8; snaplen 64..262144");
    return nullptr;
  }
  std::string err;
  std::unique_ptr<Capture> cap = Capture::Open(o, &err);
  if (!cap) {
    napi_throw_error(env, "SLOWSHAKE_ERR_CAPTURE_OPEN", err.c_str());
    return nullptr;
  }
  std::shared_ptr<RingStorage> st = cap->storage();
  napi_value result, handle, ring, index;
  CHECK_NAPI(napi_create_object(env, &result));
  // Each ArrayBuffer holds a reference to the storage; the hint is freed here if creation fails.
  auto* ref1 = new std::shared_ptr<RingStorage>(st);
  if (napi_create_external_arraybuffer(env, st->mem, st->bytes, FinalizeStorage, ref1, &ring) != napi_ok) {
    delete ref1;
    napi_throw_error(env, "SLOWSHAKE_ERR_CAPTURE_OPEN", "cannot expose the ring memory to JavaScript (ring too large for an ArrayBuffer?)");
    return nullptr;
  }
  napi_value flows;
  auto* ref3 = new std::shared_ptr<RingStorage>(st);
  if (napi_create_external_arraybuffer(env, st->flows, sizeof(FlowSlot) * kFlowBuckets * kFlowWays, FinalizeStorage, ref3, &flows) != napi_ok) {
    delete ref3;
    napi_throw_error(env, "SLOWSHAKE_ERR_CAPTURE_OPEN", "cannot expose the ring flow table to JavaScript");
    return nullptr;
  }
  auto* ref2 = new std::shared_ptr<RingStorage>(st);
  if (napi_create_external_arraybuffer(env, st->index, sizeof(IndexEntry) * kIndexSlots, FinalizeStorage, ref2, &index) != napi_ok) {
    delete ref2;
    napi_throw_error(env, "SLOWSHAKE_ERR_CAPTURE_OPEN", "cannot expose the ring index to JavaScript");
    return nullptr;
  }
  const int link = cap->link_type();
  const bool nano = cap->nanosecond();
  napi_value fmode, freason;
  napi_create_string_utf8(env, cap->filter_mode(), NAPI_AUTO_LENGTH, &fmode);
  if (cap->filter_reason().empty()) napi_get_null(env, &freason);
  else napi_create_string_utf8(env, cap->filter_reason().c_str(), cap->filter_reason().size(), &freason);
  napi_set_named_property(env, result, "filterMode", fmode);
  napi_set_named_property(env, result, "filterReason", freason);
  CHECK_NAPI(napi_create_external(env, new Handle{std::move(cap)}, FinalizeHandle, nullptr, &handle));
  napi_set_named_property(env, result, "handle", handle);
  napi_set_named_property(env, result, "ring", ring);
  napi_set_named_property(env, result, "index", index);
  napi_set_named_property(env, result, "flows", flows);
  SetNumber(env, result, "linkType", link);
  SetNumber(env, result, "faultInMs", static_cast<double>(st->fault_in_ns) / 1e6);
  napi_value b;
  napi_get_boolean(env, nano, &b);
  napi_set_named_property(env, result, "nanosecond", b);
  return result;
}

napi_value Positions(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  Handle* h = argc >= 1 ? GetHandle(env, argv[0]) : nullptr;
  if (!h) return nullptr;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (argc < 2 || napi_get_typedarray_info(env, argv[1], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_float64_array || length < 2) {
    napi_throw_type_error(env, "SLOWSHAKE_ERR_ARG", "positions: expected a Float64Array(2)");
    return nullptr;
  }
  RingCounters& c = h->capture->storage()->ring->counters();
  double* out = static_cast<double*>(data);
  out[0] = static_cast<double>(c.head.load(std::memory_order_acquire));
  std::atomic_thread_fence(std::memory_order_acquire);
  out[1] = static_cast<double>(c.tail.load(std::memory_order_acquire));
  if (length >= 3) out[2] = static_cast<double>(c.newest_ns.load(std::memory_order_relaxed));
  return nullptr;
}

napi_value Stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  Handle* h = argc >= 1 ? GetHandle(env, argv[0]) : nullptr;
  if (!h) return nullptr;
  CaptureStats s = h->capture->GetStats();
  napi_value o;
  CHECK_NAPI(napi_create_object(env, &o));
  SetNumber(env, o, "packets", static_cast<double>(s.ring->packets.load()));
  SetNumber(env, o, "bytes", static_cast<double>(s.ring->bytes.load()));
  SetNumber(env, o, "wireBytes", static_cast<double>(s.ring->wire_bytes.load()));
  SetNumber(env, o, "overwrites", static_cast<double>(s.ring->overwrites.load()));
  SetNumber(env, o, "tooBig", static_cast<double>(s.ring->too_big.load()));
  SetNumber(env, o, "head", static_cast<double>(s.ring->head.load()));
  SetNumber(env, o, "tail", static_cast<double>(s.ring->tail.load()));
  SetNumber(env, o, "newestNs", static_cast<double>(s.ring->newest_ns.load()));
  SetNumber(env, o, "kernelReceived", static_cast<double>(s.kernel_received));
  SetNumber(env, o, "kernelDrops", static_cast<double>(s.kernel_drops));
  SetNumber(env, o, "ifDrops", static_cast<double>(s.if_drops));
  SetNumber(env, o, "pps", static_cast<double>(s.pps));
  napi_value state, error;
  const char* names[] = {"running", "stopped", "failed"};
  napi_create_string_utf8(env, names[s.state], NAPI_AUTO_LENGTH, &state);
  napi_set_named_property(env, o, "state", state);
  if (s.error.empty()) napi_get_null(env, &error);
  else napi_create_string_utf8(env, s.error.c_str(), s.error.size(), &error);
  napi_set_named_property(env, o, "error", error);
  return o;
}

napi_value StopCapture(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  Handle* h = argc >= 1 ? GetHandle(env, argv[0]) : nullptr;
  if (!h) return nullptr;
  h->capture->Stop();
  return nullptr;
}

// markDone(handle, ipVersion, client, clientPort, server, serverPort): one map update, no
// allocation (called for every record the analyzer emits).
napi_value MarkDone(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  Handle* h = argc >= 1 ? GetHandle(env, argv[0]) : nullptr;
  if (!h) return nullptr;
  int32_t version = 0, cport = -1, sport = -1;
  void* addr[2] = {nullptr, nullptr};
  size_t len[2] = {0, 0};
  bool ok = argc == 6 && napi_get_value_int32(env, argv[1], &version) == napi_ok &&
            napi_get_value_int32(env, argv[3], &cport) == napi_ok && napi_get_value_int32(env, argv[5], &sport) == napi_ok;
  for (int i = 0; ok && i < 2; i++) {
    napi_typedarray_type type;
    ok = napi_get_typedarray_info(env, argv[2 + 2 * i], &type, &len[i], &addr[i], nullptr, nullptr) == napi_ok &&
         type == napi_uint8_array;
  }
  const size_t want = version == 6 ? 16 : 4;
  if (!ok || (version != 4 && version != 6) || len[0] < want || len[1] < want || cport < 0 || cport > 65535 || sport < 0 ||
      sport > 65535) {
    napi_throw_type_error(env, "SLOWSHAKE_ERR_ARG", "markDone: expected (handle, 4|6, Uint8Array, port, Uint8Array, port)");
    return nullptr;
  }
  KernelFilter* kf = h->capture->kernel_filter();
  bool marked = false;
  if (kf) {
    flow_key key;
    MakeFlowKey(version, static_cast<const uint8_t*>(addr[0]), static_cast<uint16_t>(cport),
                static_cast<const uint8_t*>(addr[1]), static_cast<uint16_t>(sport), &key);
    marked = kf->MarkDone(key);
  }
  napi_value out;
  napi_get_boolean(env, marked, &out);
  return out;
}

napi_value FilterStats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  Handle* h = argc >= 1 ? GetHandle(env, argv[0]) : nullptr;
  if (!h) return nullptr;
  KernelFilterCounters c;
  std::memset(&c, 0, sizeof(c));
  KernelFilter* kf = h->capture->kernel_filter();
  std::string err;
  if (kf && !kf->ReadCounters(&c, &err)) {
    napi_throw_error(env, "SLOWSHAKE_ERR_FILTER_STATS", err.c_str());
    return nullptr;
  }
  napi_value o;
  CHECK_NAPI(napi_create_object(env, &o));
  SetNumber(env, o, "passed", static_cast<double>(c.sum.passed));
  SetNumber(env, o, "passedFinRst", static_cast<double>(c.sum.passed_fin_rst));
  SetNumber(env, o, "droppedDone", static_cast<double>(c.sum.dropped_done));
  SetNumber(env, o, "droppedBudget", static_cast<double>(c.sum.dropped_budget));
  SetNumber(env, o, "droppedUntracked", static_cast<double>(c.sum.dropped_untracked));
  SetNumber(env, o, "droppedNonTcp", static_cast<double>(c.sum.dropped_non_tcp));
  SetNumber(env, o, "flowsStarted", static_cast<double>(c.sum.flows_started));
  SetNumber(env, o, "flowsInserted", static_cast<double>(c.sum.flows_inserted));
  // The LRU map's entry count is not visible cheaply (counting walks every key); entries are never
  // deleted, so min(inserted, max_flows) bounds it, and inserted - max_flows bounds evictions below.
  const double inserted = static_cast<double>(c.sum.flows_inserted), cap = static_cast<double>(c.max_flows);
  SetNumber(env, o, "mapEntriesAtMost", inserted < cap ? inserted : cap);
  SetNumber(env, o, "evictionsAtLeast", inserted > cap ? inserted - cap : 0);
  SetNumber(env, o, "preAttachDiscarded", static_cast<double>(h->capture->pre_attach_discarded()));
  SetNumber(env, o, "budgetEnded", static_cast<double>(c.sum.budget_ended));
  SetNumber(env, o, "droppedData", static_cast<double>(c.sum.dropped_data));
  SetNumber(env, o, "dataEnded", static_cast<double>(c.sum.data_ended));
  SetNumber(env, o, "markedDone", static_cast<double>(c.marked_done));
  SetNumber(env, o, "markMissing", static_cast<double>(c.mark_missing));
  SetNumber(env, o, "markFailed", static_cast<double>(c.mark_failed));
  napi_value merr;
  if (c.last_mark_errno == 0) napi_get_null(env, &merr);
  else napi_create_string_utf8(env, std::strerror(c.last_mark_errno), NAPI_AUTO_LENGTH, &merr);
  napi_set_named_property(env, o, "markError", merr);
  SetNumber(env, o, "userFilterRejected", static_cast<double>(h->capture->user_filter_rejected()));
  SetNumber(env, o, "passedWide", static_cast<double>(c.sum.passed_wide));
  SetNumber(env, o, "wideBytes", static_cast<double>(c.sum.wide_bytes));
  SetNumber(env, o, "wideExpired", static_cast<double>(c.sum.wide_expired));
  SetNumber(env, o, "wideBudgetEnded", static_cast<double>(c.sum.wide_budget_ended));
  SetNumber(env, o, "wideEntries", static_cast<double>(c.wide_entries));
  SetNumber(env, o, "widenFailed", static_cast<double>(c.widen_failed));
  return o;
}

// The (handle, ipVersion, addr, prefixLen) head of widen and narrow; false after throwing.
bool GetNetwork(napi_env env, napi_value* argv, size_t argc, size_t want_argc, const char* what, Handle** h, int32_t* version,
                const uint8_t** addr, int32_t* prefix) {
  *h = argc >= 1 ? GetHandle(env, argv[0]) : nullptr;
  if (!*h) return false;
  void* data = nullptr;
  size_t len = 0;
  napi_typedarray_type type;
  bool ok = argc >= want_argc && napi_get_value_int32(env, argv[1], version) == napi_ok &&
            napi_get_typedarray_info(env, argv[2], &type, &len, &data, nullptr, nullptr) == napi_ok && type == napi_uint8_array &&
            napi_get_value_int32(env, argv[3], prefix) == napi_ok;
  const size_t bytes = *version == 6 ? 16 : 4;
  if (!ok || (*version != 4 && *version != 6) || len != bytes || *prefix < 0 || *prefix > static_cast<int32_t>(bytes * 8)) {
    napi_throw_type_error(env, "SLOWSHAKE_ERR_ARG", what);
    return false;
  }
  *addr = static_cast<const uint8_t*>(data);
  return true;
}

// widen(handle, ipVersion, addr, prefixLen, durationMs, maxBytes): a few map syscalls (JS thread).
napi_value Widen(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  Handle* h;
  int32_t version = 0, prefix = -1;
  const uint8_t* addr = nullptr;
  const char* usage = "widen: expected (handle, 4|6, Uint8Array of 4|16 bytes, prefixLen, durationMs >= 1, maxBytes >= 1)";
  if (!GetNetwork(env, argv, argc, 6, usage, &h, &version, &addr, &prefix)) return nullptr;
  double ms = 0, bytes = 0;
  if (napi_get_value_double(env, argv[4], &ms) != napi_ok || napi_get_value_double(env, argv[5], &bytes) != napi_ok || !(ms >= 1) ||
      !(bytes >= 1) || ms > 1e12 || bytes > 9e18) {
    napi_throw_type_error(env, "SLOWSHAKE_ERR_ARG", usage);
    return nullptr;
  }
  KernelFilter* kf = h->capture->kernel_filter();
  const std::string err = kf ? kf->Widen(version, addr, prefix, static_cast<uint64_t>(ms * 1e6), static_cast<uint64_t>(bytes))
                             : std::string("no eBPF filter on this capture");
  napi_value out;
  CHECK_NAPI(napi_create_string_utf8(env, err.c_str(), err.size(), &out));
  return out;
}

napi_value Narrow(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  Handle* h;
  int32_t version = 0, prefix = -1;
  const uint8_t* addr = nullptr;
  if (!GetNetwork(env, argv, argc, 4, "narrow: expected (handle, 4|6, Uint8Array of 4|16 bytes, prefixLen)", &h, &version, &addr, &prefix)) {
    return nullptr;
  }
  KernelFilter* kf = h->capture->kernel_filter();
  napi_value out;
  napi_get_boolean(env, kf != nullptr && kf->Narrow(version, addr, prefix), &out);
  return out;
}

napi_value Widened(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  Handle* h = argc >= 1 ? GetHandle(env, argv[0]) : nullptr;
  if (!h) return nullptr;
  std::vector<WideEntry> list;
  KernelFilter* kf = h->capture->kernel_filter();
  if (kf) {
    const std::string err = kf->Widened(&list);
    if (!err.empty()) {
      napi_throw_error(env, "SLOWSHAKE_ERR_FILTER_STATS", err.c_str());
      return nullptr;
    }
  }
  napi_value arr;
  CHECK_NAPI(napi_create_array_with_length(env, list.size(), &arr));
  for (size_t i = 0; i < list.size(); i++) {
    const WideEntry& e = list[i];
    char text[INET6_ADDRSTRLEN + 8] = {0};
    inet_ntop(e.ip_version == 6 ? AF_INET6 : AF_INET, e.addr, text, INET6_ADDRSTRLEN);
    const std::string cidr = std::string(text) + "/" + std::to_string(e.prefix_len);
    napi_value o, v;
    CHECK_NAPI(napi_create_object(env, &o));
    napi_create_string_utf8(env, cidr.c_str(), cidr.size(), &v);
    napi_set_named_property(env, o, "cidr", v);
    SetNumber(env, o, "msLeft", static_cast<double>(e.ns_left / 1000000));
    SetNumber(env, o, "bytesLeft", static_cast<double>(e.bytes_left));
    SetNumber(env, o, "packets", static_cast<double>(e.packets));
    SetNumber(env, o, "bytes", static_cast<double>(e.bytes));
    napi_create_string_utf8(env, e.state, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, o, "state", v);
    napi_set_element(env, arr, static_cast<uint32_t>(i), o);
  }
  return arr;
}

napi_value Interfaces(napi_env env, napi_callback_info) {
  napi_value s;
  const std::string list = ListInterfaces();
  napi_create_string_utf8(env, list.c_str(), list.size(), &s);
  return s;
}

napi_value FlowHashOf(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  double link = 0;
  if (argc < 2 || napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array || napi_get_value_double(env, argv[1], &link) != napi_ok || length > UINT32_MAX) {
    napi_throw_type_error(env, "SLOWSHAKE_ERR_ARG", "flowHash: expected (Uint8Array, linkType)");
    return nullptr;
  }
  const uint8_t* bytes = length > 0 ? static_cast<const uint8_t*>(data) : nullptr;
  napi_value out;
  CHECK_NAPI(napi_create_uint32(env, FlowHash(bytes, static_cast<uint32_t>(length), static_cast<int>(link)), &out));
  return out;
}

// sdNotify(socketPath, message): "" when sent, else the failure (never throws for a send error:
// an unreachable systemd is an operational failure the caller counts and logs).
napi_value SdNotifyOf(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  std::string parts[2];
  for (size_t i = 0; i < 2; i++) {
    size_t n = 0;
    if (i >= argc || napi_get_value_string_utf8(env, argv[i], nullptr, 0, &n) != napi_ok || n > 65536) {
      napi_throw_type_error(env, "SLOWSHAKE_ERR_ARG", "sdNotify: expected (socketPath, message) strings");
      return nullptr;
    }
    parts[i].resize(n + 1);
    napi_get_value_string_utf8(env, argv[i], &parts[i][0], n + 1, &n);
    parts[i].resize(n);
  }
  const std::string err = SdNotify(parts[0], parts[1]);
  napi_value out;
  CHECK_NAPI(napi_create_string_utf8(env, err.c_str(), err.size(), &out));
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"positions", nullptr, Positions, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stats", nullptr, Stats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stop", nullptr, StopCapture, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"markDone", nullptr, MarkDone, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"filterStats", nullptr, FilterStats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"widen", nullptr, Widen, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"narrow", nullptr, Narrow, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"widened", nullptr, Widened, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"interfaces", nullptr, Interfaces, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"flowHash", nullptr, FlowHashOf, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sdNotify", nullptr, SdNotifyOf, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_value hdr, slots, bucket;
  napi_create_uint32(env, kRecordHeader, &hdr);
  napi_create_uint32(env, kIndexSlots, &slots);
  napi_create_double(env, static_cast<double>(kBucketNs), &bucket);
  napi_set_named_property(env, exports, "RECORD_HEADER", hdr);
  napi_set_named_property(env, exports, "INDEX_SLOTS", slots);
  napi_set_named_property(env, exports, "BUCKET_NS", bucket);
  return exports;
}

}  // namespace
}  // namespace slowshake

NAPI_MODULE(NODE_GYP_MODULE_NAME, slowshake::Init)
