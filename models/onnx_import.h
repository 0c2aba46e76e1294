// ONNX importer: reads a binary BNN exported with the conventions of models/README.md into the IR.
#pragma once
#include <string>

#include "models/network.h"

namespace bayescim::models {

// Loads and validates the model. Throws ModelError naming the file, the node and op, and what is
// supported, for unsupported ops, non-binary weights, corrupt or truncated files.
Network load_onnx(const std::string& path);

// The same from the file's content in memory; `name` stands for the file in messages (the fuzz
// harness fuzz/fuzz_onnx.cpp uses it).
Network load_onnx_bytes(const std::string& bytes, const std::string& name);

}  // namespace bayescim::models
