#include "engine/core/error.hpp"

#include <uv.h>

namespace cachestress {

std::string uv_error_text(int code) {
  return std::string(uv_err_name(code)) + ": " + uv_strerror(code);
}

std::string errno_text(int err) {
  return uv_error_text(uv_translate_sys_error(err));
}

}  // namespace cachestress
