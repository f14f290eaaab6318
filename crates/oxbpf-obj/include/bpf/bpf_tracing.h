/* oxbpf shim: oxbpf.h (included automatically by `oxbpf build`) declares everything
 * <bpf/bpf_tracing.h> provides in libbpf. */
#include "../oxbpf.h"
