{
  "targets": [
    {
      "target_name": "ferry_udp",
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/addon.c", "native/udp_sys.c", "native/aead.c"],
          "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
        }]
      ]
    }
  ]
}
