{
  "targets": [
    {
      "target_name": "slowshake_capture",
      "sources": ["src/addon.cc", "src/capture.cc", "src/flow_hash.cc", "src/kernel_filter.cc", "src/notify.cc"],
      "actions": [
        {
          "action_name": "handshake_filter_bpf",
          "inputs": ["bpf/handshake_filter.bpf.c", "bpf/filter_abi.h", "tools/build-bpf.sh"],
          "outputs": ["<(INTERMEDIATE_DIR)/handshake_filter.bpf.o", "<(INTERMEDIATE_DIR)/handshake_filter_obj.h"],
          "action": ["sh", "tools/build-bpf.sh", "bpf/handshake_filter.bpf.c", "<(INTERMEDIATE_DIR)/handshake_filter.bpf.o", "<(INTERMEDIATE_DIR)/handshake_filter_obj.h"],
          "message": "clang -target bpf: the eBPF handshake filter"
        }
      ],
      "include_dirs": ["<(INTERMEDIATE_DIR)"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti"],
      "libraries": ["-lpcap", "-lbpf", "-lpthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
