#include "engine/model/failure.hpp"

#include <array>
#include <utility>

namespace cachestress::model {
namespace {

constexpr std::array<std::pair<FailureCategory, const char*>, 14> k_spellings{{
    {FailureCategory::deadlock, "deadlock"},
    {FailureCategory::lock_timeout, "lock-timeout"},
    {FailureCategory::lock_busy, "lock-busy"},
    {FailureCategory::enospc, "enospc"},
    {FailureCategory::rejected, "rejected"},
    {FailureCategory::io, "io"},
    {FailureCategory::signal, "signal"},
    {FailureCategory::exit, "exit"},
    {FailureCategory::timeout, "timeout"},
    {FailureCategory::check, "check"},
    {FailureCategory::spawn, "spawn"},
    {FailureCategory::resources, "resources"},
    {FailureCategory::protocol, "protocol"},
    {FailureCategory::other, "other"},
}};

}  // namespace

const char* to_string(FailureCategory category) {
  for (const auto& [value, spelling] : k_spellings) {
    if (value == category) return spelling;
  }
  return "other";
}

std::string failure_reason(FailureCategory category, std::string_view detail) {
  std::string reason = to_string(category);
  reason += ": ";
  reason += detail;
  return reason;
}

FailureCategory failure_category_of(std::string_view reason) {
  const auto prefix = reason.substr(0, reason.find(':'));
  for (const auto& [value, spelling] : k_spellings) {
    if (prefix == spelling) return value;
  }
  return FailureCategory::other;
}

}  // namespace cachestress::model
