#include "sds/status.h"

namespace sds {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
#define SDS_NAME_CASE(name, value, text) \
  case ErrorCode::name:                  \
    return #name;
    SDS_ERROR_CODES(SDS_NAME_CASE)
#undef SDS_NAME_CASE
  }
  return "kUnknown";
}

std::string_view ErrorCodeText(ErrorCode code) {
  switch (code) {
#define SDS_TEXT_CASE(name, value, text) \
  case ErrorCode::name:                  \
    return text;
    SDS_ERROR_CODES(SDS_TEXT_CASE)
#undef SDS_TEXT_CASE
  }
  return "unknown error";
}

std::string Status::ToString() const {
  std::string out(ErrorCodeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace sds
