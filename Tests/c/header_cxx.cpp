// Both headers compiled as C++: the extern "C" guards and every declaration of the stable
// tier (muflow.h) and of the binding tier (muflow_binding.h) must be valid C++.
#include <muflow_binding.h>
#include <cstdio>
#include <cstring>

int main() {
    char *prefix = nullptr;
    const char *dict = "{\"task\": \"t\"}";
    mf_status status = mf_compute_prefix(&prefix, MF_FORMAT_JSON, dict, std::strlen(dict), "muflow", nullptr);
    if (status != MF_OK) {
        std::fprintf(stderr, "%s: %s\n", mf_status_name(status), mf_last_error_message());
        return 1;
    }
    std::printf("C++: %s\n", prefix);
    mf_string_free(prefix);
    char digest[MF_DIGEST_LENGTH + 1];
    status = mf_content_digest(digest, MF_FORMAT_JSON, dict, std::strlen(dict));
    if (status != MF_OK) return 1;
    std::printf("C++ binding tier: %s\n", digest);
    return 0;
}
