{
  "targets": [
    {
      "target_name": "slowshake_capture",
      "sources": ["src/addon.cc", "src/capture.cc", "src/flow_hash.cc", "src/notify.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti"],
      "libraries": ["-lpcap", "-lpthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
