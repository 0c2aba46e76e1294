// Shared by the libFuzzer harnesses: a scratch file for loaders that read from a path, and the
// SystemC entry point libsystemc needs at link time (the harnesses never elaborate SystemC).
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace bayescim::fuzz {

// A per-process file in $TMPDIR (default /tmp; /dev/shm is faster), rewritten on every input.
inline std::string scratch_path(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/bayescim-fuzz-" + std::to_string(::getpid()) + "-" + name;
}

inline void write_scratch(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

}  // namespace bayescim::fuzz

// Source directory of the repository (the --set harness applies its input to a shipped config).
#ifndef BAYESCIM_SOURCE_DIR
#define BAYESCIM_SOURCE_DIR "."
#endif
