/* What machine and software a run used, for result.json and exported tables. */
#ifndef TB_SYSINFO_H
#define TB_SYSINFO_H

#include <json-c/json.h>

/* {"hostname", "os", "cpu_model", "cpu_cores", "memory_bytes", "compiler",
 *  "trainbench", "libraries": {"onednn", "json-c", "zlib", ...}} */
struct json_object *tb_sysinfo_json(void);
/* "Intel(R) Xeon(R) ..." or "unknown". */
void tb_sysinfo_cpu_model(char *out, size_t out_size);
int tb_sysinfo_cpu_cores(void);
/* This process's resident set size now (Linux /proc/self/statm), 0 if unknown. */
long long tb_sysinfo_rss_bytes(void);

#endif
