// ONNX importer: reads a binary BNN exported with the conventions of models/README.md into the IR.
#pragma once
#include <string>

#include "models/network.h"

namespace bayescim::models {

// Loads and validates the model. Throws ModelError naming the file, the node and op, and what is
// supported, for unsupported ops, non-binary weights, corrupt or truncated files.
Network load_onnx(const std::string& path);

}  // namespace bayescim::models
