// Loader parameters: built-in defaults, hwcaps subdirectory lists, `--list-diagnostics` parsing
// and asking the real loaders (docs/loader-rules.md#loader-parameters, #hwcaps-subdirectories).
#include "jailbuild/loader_config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "resolve/shell_helpers.hpp"

namespace {

using jailbuild::default_loader_config;
using jailbuild::LoaderConfig;
using jailbuild::parse_diagnostics;
using jailbuild::query_loader;
using jailbuild::testing::run_shell;
using jailbuild::testing::shell_quote;
using jailbuild::testing::TempDir;
using Strings = std::vector<std::string>;

constexpr const char* kLoader64 = "/lib64/ld-linux-x86-64.so.2";
constexpr const char* kLoader32 = "/lib/ld-linux.so.2";

// `/lib64/ld-linux-x86-64.so.2 --list-diagnostics` on the development machine (Debian 12, an AMD
// CPU with x86-64-v4), with the env lines shortened.
constexpr std::string_view kRealX8664Diagnostics = R"diag(dl_dst_lib="lib/x86_64-linux-gnu"
dl_hwcap=0x2
dl_hwcap_important=0x6
dl_hwcap2=0x2
dl_hwcaps_subdirs="x86-64-v4:x86-64-v3:x86-64-v2"
dl_hwcaps_subdirs_active=0x7
dl_pagesize=0x1000
dl_platform="x86_64"
dl_profile_output="/var/tmp"
dl_string_platform=0xffffffffffffffff
dso.ld="ld-linux-x86-64.so.2"
dso.libc="libc.so.6"
env_filtered[0x0]="SHELL"
env[0x1]="LANG=C.UTF-8"
env[0x2]="PATH=/usr/local/bin:/usr/bin:/bin"
path.prefix="/usr"
path.rtld="/lib64/ld-linux-x86-64.so.2"
path.sysconfdir="/etc"
path.system_dirs[0x0]="/lib/x86_64-linux-gnu/"
path.system_dirs[0x1]="/usr/lib/x86_64-linux-gnu/"
path.system_dirs[0x2]="/lib/"
path.system_dirs[0x3]="/usr/lib/"
version.release="stable"
version.version="2.36"
auxv[0x0].a_type=0x21
auxv[0x0].a_val=0x7f235c8f3000
auxv[0x1].a_type=0x33
auxv[0x1].a_val=0xd30
auxv[0x2].a_type=0x10
auxv[0x2].a_val=0x178bfbff
auxv[0x3].a_type=0x6
auxv[0x3].a_val=0x1000
auxv[0x4].a_type=0x11
auxv[0x4].a_val=0x64
auxv[0x5].a_type=0x3
auxv[0x5].a_val=0x7f235c8f5040
auxv[0x6].a_type=0x4
auxv[0x6].a_val=0x38
auxv[0x7].a_type=0x5
auxv[0x7].a_val=0x9
auxv[0x8].a_type=0x7
auxv[0x8].a_val=0x0
auxv[0x9].a_type=0x8
auxv[0x9].a_val=0x0
auxv[0xa].a_type=0x9
auxv[0xa].a_val=0x7f235c90fb70
auxv[0xb].a_type=0xb
auxv[0xb].a_val=0x0
auxv[0xc].a_type=0xc
auxv[0xc].a_val=0x0
auxv[0xd].a_type=0xd
auxv[0xd].a_val=0x0
auxv[0xe].a_type=0xe
auxv[0xe].a_val=0x0
auxv[0xf].a_type=0x17
auxv[0xf].a_val=0x0
auxv[0x10].a_type=0x19
auxv[0x10].a_val=0x7ffca2c080d9
auxv[0x11].a_type=0x1a
auxv[0x11].a_val=0x2
auxv[0x12].a_type=0x1f
auxv[0x12].a_val="/lib64/ld-linux-x86-64.so.2"
auxv[0x13].a_type=0xf
auxv[0x13].a_val="x86_64"
auxv[0x14].a_type=0x1b
auxv[0x14].a_val=0x1c
auxv[0x15].a_type=0x1c
auxv[0x15].a_val=0x20
uname.sysname="Linux"
uname.nodename="vm"
uname.release="6.18.44-fc-v595"
uname.version="#1 SMP PREEMPT_DYNAMIC @0"
uname.machine="x86_64"
uname.domainname="(none)"
x86.cpu_features.basic.kind=0x2
x86.cpu_features.basic.max_cpuid=0x1c
x86.cpu_features.basic.family=0x19
x86.cpu_features.basic.model=0x11
x86.cpu_features.basic.stepping=0x1
x86.cpu_features.features[0x0].cpuid[0x0]=0xa10f11
x86.cpu_features.features[0x0].cpuid[0x1]=0x20800
x86.cpu_features.features[0x0].cpuid[0x2]=0xfffa3203
x86.cpu_features.features[0x0].cpuid[0x3]=0x178bfbff
x86.cpu_features.features[0x0].active[0x0]=0x0
x86.cpu_features.features[0x0].active[0x1]=0x0
x86.cpu_features.features[0x0].active[0x2]=0x7ed83203
x86.cpu_features.features[0x0].active[0x3]=0x17888110
x86.cpu_features.features[0x1].cpuid[0x0]=0x1
x86.cpu_features.features[0x1].cpuid[0x1]=0xf1bf07ab
x86.cpu_features.features[0x1].cpuid[0x2]=0x405fc6
x86.cpu_features.features[0x1].cpuid[0x3]=0x10
x86.cpu_features.features[0x1].active[0x0]=0x0
x86.cpu_features.features[0x1].active[0x1]=0xf1af0328
x86.cpu_features.features[0x1].active[0x2]=0x405f42
x86.cpu_features.features[0x1].active[0x3]=0x10
x86.cpu_features.features[0x2].cpuid[0x0]=0xa10f11
x86.cpu_features.features[0x2].cpuid[0x1]=0x40000000
x86.cpu_features.features[0x2].cpuid[0x2]=0x4003f3
x86.cpu_features.features[0x2].cpuid[0x3]=0x2fd3fbff
x86.cpu_features.features[0x2].active[0x0]=0x0
x86.cpu_features.features[0x2].active[0x1]=0x0
x86.cpu_features.features[0x2].active[0x2]=0x161
x86.cpu_features.features[0x2].active[0x3]=0x8000000
x86.cpu_features.features[0x3].cpuid[0x0]=0xf
x86.cpu_features.features[0x3].cpuid[0x1]=0x9a8
x86.cpu_features.features[0x3].cpuid[0x2]=0x1800
x86.cpu_features.features[0x3].cpuid[0x3]=0x0
x86.cpu_features.features[0x3].active[0x0]=0x7
x86.cpu_features.features[0x3].active[0x1]=0x0
x86.cpu_features.features[0x3].active[0x2]=0x0
x86.cpu_features.features[0x3].active[0x3]=0x0
x86.cpu_features.features[0x4].cpuid[0x0]=0x0
x86.cpu_features.features[0x4].cpuid[0x1]=0x0
x86.cpu_features.features[0x4].cpuid[0x2]=0x0
x86.cpu_features.features[0x4].cpuid[0x3]=0x100
x86.cpu_features.features[0x4].active[0x0]=0x0
x86.cpu_features.features[0x4].active[0x1]=0x0
x86.cpu_features.features[0x4].active[0x2]=0x0
x86.cpu_features.features[0x4].active[0x3]=0x0
x86.cpu_features.features[0x5].cpuid[0x0]=0x303030
x86.cpu_features.features[0x5].cpuid[0x1]=0x50020005
x86.cpu_features.features[0x5].cpuid[0x2]=0x7001
x86.cpu_features.features[0x5].cpuid[0x3]=0x0
x86.cpu_features.features[0x5].active[0x0]=0x0
x86.cpu_features.features[0x5].active[0x1]=0x0
x86.cpu_features.features[0x5].active[0x2]=0x0
x86.cpu_features.features[0x5].active[0x3]=0x0
x86.cpu_features.features[0x6].cpuid[0x0]=0x20
x86.cpu_features.features[0x6].cpuid[0x1]=0x0
x86.cpu_features.features[0x6].cpuid[0x2]=0x0
x86.cpu_features.features[0x6].cpuid[0x3]=0x0
x86.cpu_features.features[0x6].active[0x0]=0x20
x86.cpu_features.features[0x6].active[0x1]=0x0
x86.cpu_features.features[0x6].active[0x2]=0x0
x86.cpu_features.features[0x6].active[0x3]=0x0
x86.cpu_features.features[0x7].cpuid[0x0]=0x0
x86.cpu_features.features[0x7].cpuid[0x1]=0x0
x86.cpu_features.features[0x7].cpuid[0x2]=0x0
x86.cpu_features.features[0x7].cpuid[0x3]=0x0
x86.cpu_features.features[0x7].active[0x0]=0x0
x86.cpu_features.features[0x7].active[0x1]=0x0
x86.cpu_features.features[0x7].active[0x2]=0x0
x86.cpu_features.features[0x7].active[0x3]=0x0
x86.cpu_features.features[0x8].cpuid[0x0]=0x0
x86.cpu_features.features[0x8].cpuid[0x1]=0x0
x86.cpu_features.features[0x8].cpuid[0x2]=0x0
x86.cpu_features.features[0x8].cpuid[0x3]=0x0
x86.cpu_features.features[0x8].active[0x0]=0x0
x86.cpu_features.features[0x8].active[0x1]=0x0
x86.cpu_features.features[0x8].active[0x2]=0x0
x86.cpu_features.features[0x8].active[0x3]=0x0
x86.cpu_features.preferred.Fast_Rep_String=0x0
x86.cpu_features.preferred.Fast_Copy_Backward=0x0
x86.cpu_features.preferred.Slow_BSF=0x0
x86.cpu_features.preferred.Fast_Unaligned_Load=0x0
x86.cpu_features.preferred.Prefer_PMINUB_for_stringop=0x0
x86.cpu_features.preferred.Fast_Unaligned_Copy=0x0
x86.cpu_features.preferred.I586=0x1
x86.cpu_features.preferred.I686=0x1
x86.cpu_features.preferred.Slow_SSE4_2=0x0
x86.cpu_features.preferred.AVX_Fast_Unaligned_Load=0x1
x86.cpu_features.preferred.Prefer_No_VZEROUPPER=0x0
x86.cpu_features.preferred.Prefer_ERMS=0x0
x86.cpu_features.preferred.Prefer_No_AVX512=0x0
x86.cpu_features.preferred.MathVec_Prefer_No_AVX512=0x0
x86.cpu_features.preferred.Prefer_FSRM=0x0
x86.cpu_features.preferred.Avoid_Short_Distance_REP_MOVSB=0x0
x86.cpu_features.isa_1=0xf
x86.cpu_features.xsave_state_size=0x9c0
x86.cpu_features.xsave_state_full_size=0x9c0
x86.cpu_features.data_cache_size=0x8000
x86.cpu_features.shared_cache_size=0x14000000
x86.cpu_features.non_temporal_threshold=0xf000000
x86.cpu_features.rep_movsb_threshold=0x840
x86.cpu_features.rep_movsb_stop_threshold=0x100000
x86.cpu_features.rep_stosb_threshold=0x800
x86.cpu_features.level1_icache_size=0x8000
x86.cpu_features.level1_icache_linesize=0x40
x86.cpu_features.level1_dcache_size=0x8000
x86.cpu_features.level1_dcache_assoc=0x8
x86.cpu_features.level1_dcache_linesize=0x40
x86.cpu_features.level2_cache_size=0x100000
x86.cpu_features.level2_cache_assoc=0x8
x86.cpu_features.level2_cache_linesize=0x40
x86.cpu_features.level3_cache_size=0x14000000
x86.cpu_features.level3_cache_assoc=0x0
x86.cpu_features.level3_cache_linesize=0x40
x86.cpu_features.level4_cache_size=0xffffffffffffffff
)diag";

// `/lib/ld-linux.so.2 --list-diagnostics` (Debian's biarch libc6-i386) on the same machine.
constexpr std::string_view kRealI386Diagnostics = R"diag(dl_dst_lib="lib32"
dl_hwcap=0x1
dl_hwcap_important=0x1
dl_hwcap2=0x2
dl_hwcaps_subdirs=""
dl_hwcaps_subdirs_active=0x0
dl_pagesize=0x1000
dl_platform="i686"
dl_profile_output="/var/tmp"
dl_string_platform=0x31
dso.ld="ld-linux.so.2"
dso.libc="libc.so.6"
env_filtered[0x0]="SHELL"
env[0x1]="LANG=C.UTF-8"
env[0x2]="PATH=/usr/local/bin:/usr/bin:/bin"
path.prefix="/usr"
path.rtld="/lib/ld-linux.so.2"
path.sysconfdir="/etc"
path.system_dirs[0x0]="/lib32/"
path.system_dirs[0x1]="/usr/lib32/"
path.system_dirs[0x2]="/lib/"
path.system_dirs[0x3]="/usr/lib/"
version.release="stable"
version.version="2.36"
auxv[0x0].a_type=0x20
auxv[0x0].a_val=0xf7f8d5e0
auxv[0x1].a_type=0x21
auxv[0x1].a_val=0xf7f8d000
auxv[0x2].a_type=0x33
auxv[0x2].a_val=0xd30
auxv[0x3].a_type=0x10
auxv[0x3].a_val=0x178bfbff
auxv[0x4].a_type=0x6
auxv[0x4].a_val=0x1000
auxv[0x5].a_type=0x11
auxv[0x5].a_val=0x64
auxv[0x6].a_type=0x3
auxv[0x6].a_val=0xf7f8f034
auxv[0x7].a_type=0x4
auxv[0x7].a_val=0x20
auxv[0x8].a_type=0x5
auxv[0x8].a_val=0x9
auxv[0x9].a_type=0x7
auxv[0x9].a_val=0x0
auxv[0xa].a_type=0x8
auxv[0xa].a_val=0x0
auxv[0xb].a_type=0x9
auxv[0xb].a_val=0xf7faa5c0
auxv[0xc].a_type=0xb
auxv[0xc].a_val=0x0
auxv[0xd].a_type=0xc
auxv[0xd].a_val=0x0
auxv[0xe].a_type=0xd
auxv[0xe].a_val=0x0
auxv[0xf].a_type=0xe
auxv[0xf].a_val=0x0
auxv[0x10].a_type=0x17
auxv[0x10].a_val=0x0
auxv[0x11].a_type=0x19
auxv[0x11].a_val=0xffe8ec8b
auxv[0x12].a_type=0x1a
auxv[0x12].a_val=0x2
auxv[0x13].a_type=0x1f
auxv[0x13].a_val="/lib/ld-linux.so.2"
auxv[0x14].a_type=0xf
auxv[0x14].a_val="i686"
auxv[0x15].a_type=0x1b
auxv[0x15].a_val=0x1c
auxv[0x16].a_type=0x1c
auxv[0x16].a_val=0x20
uname.sysname="Linux"
uname.nodename="vm"
uname.release="6.18.44-fc-v595"
uname.version="#1 SMP PREEMPT_DYNAMIC @0"
uname.machine="x86_64"
uname.domainname="(none)"
x86.cpu_features.basic.kind=0x2
x86.cpu_features.basic.max_cpuid=0x1c
x86.cpu_features.basic.family=0x19
x86.cpu_features.basic.model=0x11
x86.cpu_features.basic.stepping=0x1
x86.cpu_features.features[0x0].cpuid[0x0]=0xa10f11
x86.cpu_features.features[0x0].cpuid[0x1]=0x1020800
x86.cpu_features.features[0x0].cpuid[0x2]=0xfffa3203
x86.cpu_features.features[0x0].cpuid[0x3]=0x178bfbff
x86.cpu_features.features[0x0].active[0x0]=0x0
x86.cpu_features.features[0x0].active[0x1]=0x0
x86.cpu_features.features[0x0].active[0x2]=0x7ed83203
x86.cpu_features.features[0x0].active[0x3]=0x17888110
x86.cpu_features.features[0x1].cpuid[0x0]=0x1
x86.cpu_features.features[0x1].cpuid[0x1]=0xf1bf07ab
x86.cpu_features.features[0x1].cpuid[0x2]=0x405fc6
x86.cpu_features.features[0x1].cpuid[0x3]=0x10
x86.cpu_features.features[0x1].active[0x0]=0x0
x86.cpu_features.features[0x1].active[0x1]=0xf1af0328
x86.cpu_features.features[0x1].active[0x2]=0x405f42
x86.cpu_features.features[0x1].active[0x3]=0x10
x86.cpu_features.features[0x2].cpuid[0x0]=0xa10f11
x86.cpu_features.features[0x2].cpuid[0x1]=0x40000000
x86.cpu_features.features[0x2].cpuid[0x2]=0x4003f3
x86.cpu_features.features[0x2].cpuid[0x3]=0x2fd3fbff
x86.cpu_features.features[0x2].active[0x0]=0x0
x86.cpu_features.features[0x2].active[0x1]=0x0
x86.cpu_features.features[0x2].active[0x2]=0x161
x86.cpu_features.features[0x2].active[0x3]=0x8000000
x86.cpu_features.features[0x3].cpuid[0x0]=0xf
x86.cpu_features.features[0x3].cpuid[0x1]=0x9a8
x86.cpu_features.features[0x3].cpuid[0x2]=0x1800
x86.cpu_features.features[0x3].cpuid[0x3]=0x0
x86.cpu_features.features[0x3].active[0x0]=0x7
x86.cpu_features.features[0x3].active[0x1]=0x0
x86.cpu_features.features[0x3].active[0x2]=0x0
x86.cpu_features.features[0x3].active[0x3]=0x0
x86.cpu_features.features[0x4].cpuid[0x0]=0x0
x86.cpu_features.features[0x4].cpuid[0x1]=0x0
x86.cpu_features.features[0x4].cpuid[0x2]=0x0
x86.cpu_features.features[0x4].cpuid[0x3]=0x100
x86.cpu_features.features[0x4].active[0x0]=0x0
x86.cpu_features.features[0x4].active[0x1]=0x0
x86.cpu_features.features[0x4].active[0x2]=0x0
x86.cpu_features.features[0x4].active[0x3]=0x0
x86.cpu_features.features[0x5].cpuid[0x0]=0x303030
x86.cpu_features.features[0x5].cpuid[0x1]=0x50020005
x86.cpu_features.features[0x5].cpuid[0x2]=0x7001
x86.cpu_features.features[0x5].cpuid[0x3]=0x0
x86.cpu_features.features[0x5].active[0x0]=0x0
x86.cpu_features.features[0x5].active[0x1]=0x0
x86.cpu_features.features[0x5].active[0x2]=0x0
x86.cpu_features.features[0x5].active[0x3]=0x0
x86.cpu_features.features[0x6].cpuid[0x0]=0x20
x86.cpu_features.features[0x6].cpuid[0x1]=0x0
x86.cpu_features.features[0x6].cpuid[0x2]=0x0
x86.cpu_features.features[0x6].cpuid[0x3]=0x0
x86.cpu_features.features[0x6].active[0x0]=0x20
x86.cpu_features.features[0x6].active[0x1]=0x0
x86.cpu_features.features[0x6].active[0x2]=0x0
x86.cpu_features.features[0x6].active[0x3]=0x0
x86.cpu_features.features[0x7].cpuid[0x0]=0x0
x86.cpu_features.features[0x7].cpuid[0x1]=0x0
x86.cpu_features.features[0x7].cpuid[0x2]=0x0
x86.cpu_features.features[0x7].cpuid[0x3]=0x0
x86.cpu_features.features[0x7].active[0x0]=0x0
x86.cpu_features.features[0x7].active[0x1]=0x0
x86.cpu_features.features[0x7].active[0x2]=0x0
x86.cpu_features.features[0x7].active[0x3]=0x0
x86.cpu_features.features[0x8].cpuid[0x0]=0x0
x86.cpu_features.features[0x8].cpuid[0x1]=0x0
x86.cpu_features.features[0x8].cpuid[0x2]=0x0
x86.cpu_features.features[0x8].cpuid[0x3]=0x0
x86.cpu_features.features[0x8].active[0x0]=0x0
x86.cpu_features.features[0x8].active[0x1]=0x0
x86.cpu_features.features[0x8].active[0x2]=0x0
x86.cpu_features.features[0x8].active[0x3]=0x0
x86.cpu_features.preferred.Fast_Rep_String=0x0
x86.cpu_features.preferred.Fast_Copy_Backward=0x0
x86.cpu_features.preferred.Slow_BSF=0x0
x86.cpu_features.preferred.Fast_Unaligned_Load=0x0
x86.cpu_features.preferred.Prefer_PMINUB_for_stringop=0x0
x86.cpu_features.preferred.Fast_Unaligned_Copy=0x0
x86.cpu_features.preferred.I586=0x1
x86.cpu_features.preferred.I686=0x1
x86.cpu_features.preferred.Slow_SSE4_2=0x0
x86.cpu_features.preferred.AVX_Fast_Unaligned_Load=0x1
x86.cpu_features.preferred.Prefer_No_VZEROUPPER=0x0
x86.cpu_features.preferred.Prefer_ERMS=0x0
x86.cpu_features.preferred.Prefer_No_AVX512=0x0
x86.cpu_features.preferred.MathVec_Prefer_No_AVX512=0x0
x86.cpu_features.preferred.Prefer_FSRM=0x0
x86.cpu_features.preferred.Avoid_Short_Distance_REP_MOVSB=0x0
x86.cpu_features.isa_1=0xf
x86.cpu_features.xsave_state_size=0x9c0
x86.cpu_features.xsave_state_full_size=0x9c0
x86.cpu_features.data_cache_size=0x8000
x86.cpu_features.shared_cache_size=0x14000000
x86.cpu_features.non_temporal_threshold=0xf000000
x86.cpu_features.rep_movsb_threshold=0x840
x86.cpu_features.rep_movsb_stop_threshold=0x100000
x86.cpu_features.rep_stosb_threshold=0x800
x86.cpu_features.level1_icache_size=0x8000
x86.cpu_features.level1_icache_linesize=0x40
x86.cpu_features.level1_dcache_size=0x8000
x86.cpu_features.level1_dcache_assoc=0x8
x86.cpu_features.level1_dcache_linesize=0x40
x86.cpu_features.level2_cache_size=0x100000
x86.cpu_features.level2_cache_assoc=0x8
x86.cpu_features.level2_cache_linesize=0x40
x86.cpu_features.level3_cache_size=0x14000000
x86.cpu_features.level3_cache_assoc=0x0
x86.cpu_features.level3_cache_linesize=0x40
x86.cpu_features.level4_cache_size=0xffffffff
)diag";

// ---------------------------------------------------------------------------------------------

TEST(DefaultLoaderConfig, X8664IsDebian12Amd64) {
  const LoaderConfig config = default_loader_config(2, 62);
  EXPECT_EQ(config.rtld_path, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_EQ(config.rtld_soname, "ld-linux-x86-64.so.2");
  EXPECT_EQ(config.system_dirs,
            (Strings{"/lib/x86_64-linux-gnu/", "/usr/lib/x86_64-linux-gnu/", "/lib/", "/usr/lib/"}));
  EXPECT_EQ(config.lib, "lib/x86_64-linux-gnu");
  EXPECT_EQ(config.platform, "x86_64");
  EXPECT_FALSE(config.platform_bit);
  EXPECT_EQ(config.hwcaps_subdirs, (Strings{"x86-64-v3", "x86-64-v2"}));
  EXPECT_EQ(config.cache_flags, 0x0303);
  EXPECT_FALSE(config.cache_accepts_plain_elf);
  EXPECT_EQ(config.cache_path, "/etc/ld.so.cache");
}

TEST(DefaultLoaderConfig, I386IsDebianMultiarch) {
  const LoaderConfig config = default_loader_config(1, 3);
  EXPECT_EQ(config.elf_class, 1);
  EXPECT_EQ(config.machine, 3);
  EXPECT_EQ(config.rtld_path, "/lib/ld-linux.so.2");
  EXPECT_EQ(config.rtld_soname, "ld-linux.so.2");
  EXPECT_EQ(config.system_dirs, (Strings{"/lib/i386-linux-gnu/", "/usr/lib/i386-linux-gnu/", "/lib/", "/usr/lib/"}));
  EXPECT_EQ(config.lib, "lib/i386-linux-gnu");
  EXPECT_EQ(config.platform, "i686");
  EXPECT_EQ(config.platform_bit, 49u);
  EXPECT_TRUE(config.hwcaps_subdirs.empty());
  EXPECT_EQ(config.hwcap, 0x1u);
  EXPECT_EQ(config.hwcap_mask, 0x1u);
  EXPECT_EQ(config.cache_flags, 3);
  EXPECT_TRUE(config.cache_accepts_plain_elf);
  EXPECT_EQ(config.cache_path, "/etc/ld.so.cache");
}

TEST(DefaultLoaderConfig, OtherMachinesKeepTheirClassAndMachineWithoutHwcaps) {
  const LoaderConfig config = default_loader_config(2, 183);  // EM_AARCH64
  EXPECT_EQ(config.elf_class, 2);
  EXPECT_EQ(config.machine, 183);
  EXPECT_TRUE(config.hwcaps_subdirs.empty());
  EXPECT_EQ(config.system_dirs, default_loader_config().system_dirs);
}

TEST(LegacySubdirs, ReferenceExample) {
  // [x86_64 (hwcap), x86_64 (platform), tls] — the example of docs/loader-rules.md#hwcaps-subdirectories.
  EXPECT_EQ(default_loader_config().legacy_subdirs(), (Strings{"tls/x86_64/x86_64/", "tls/x86_64/", "tls/x86_64/",
                                                               "tls/", "x86_64/x86_64/", "x86_64/", "x86_64/", ""}));
}

TEST(LegacySubdirs, I386) {
  EXPECT_EQ(default_loader_config(1, 3).legacy_subdirs(),
            (Strings{"tls/i686/sse2/", "tls/i686/", "tls/sse2/", "tls/", "i686/sse2/", "i686/", "sse2/", ""}));
}

TEST(LegacySubdirs, OnlyTlsWithoutPlatformAndImportantBits) {
  LoaderConfig config;
  config.platform.reset();
  config.hwcap_mask = 0;
  EXPECT_EQ(config.legacy_subdirs(), (Strings{"tls/", ""}));
}

TEST(LegacySubdirs, IntelWithAvx512AndHaswellPlatform) {
  LoaderConfig config;
  config.hwcap = 0x2 | 0x4;
  config.platform = "haswell";
  const Strings subdirs = config.legacy_subdirs();
  ASSERT_EQ(subdirs.size(), 16u);
  EXPECT_EQ(subdirs[0], "tls/haswell/avx512_1/x86_64/");
  EXPECT_EQ(subdirs[1], "tls/haswell/avx512_1/");
  EXPECT_EQ(subdirs[2], "tls/haswell/x86_64/");
  EXPECT_EQ(subdirs[7], "tls/");
  EXPECT_EQ(subdirs[8], "haswell/avx512_1/x86_64/");
  EXPECT_EQ(subdirs[14], "x86_64/");
  EXPECT_EQ(subdirs[15], "");
}

TEST(LegacySubdirs, HwcapBitsOutsideTheMaskOrWithoutNameAreLeftOut) {
  LoaderConfig config;
  config.platform.reset();
  config.hwcap = 0x1 | 0x2 | (std::uint64_t{1} << 40);  // sse2 is not important on x86_64
  config.hwcap_mask = 0x2 | (std::uint64_t{1} << 40);   // bit 40 has no name
  EXPECT_EQ(config.legacy_subdirs(), (Strings{"tls/x86_64/", "tls/", "x86_64/", ""}));
}

TEST(SearchSubdirs, GlibcHwcapsFirstThenLegacy) {
  const Strings subdirs = default_loader_config().search_subdirs();
  ASSERT_EQ(subdirs.size(), 10u);
  EXPECT_EQ(subdirs[0], "glibc-hwcaps/x86-64-v3/");
  EXPECT_EQ(subdirs[1], "glibc-hwcaps/x86-64-v2/");
  EXPECT_EQ(subdirs[2], "tls/x86_64/x86_64/");
  EXPECT_EQ(subdirs[9], "");
}

// ---------------------------------------------------------------------------------------------

LoaderConfig parse_or_fail(std::string_view text, LoaderConfig base = default_loader_config()) {
  auto parsed = parse_diagnostics(text, std::move(base));
  if (!parsed) {
    ADD_FAILURE() << parsed.error().message;
    return LoaderConfig{};
  }
  return std::move(parsed).value();
}

// Fields the report does not mention, set to values no report produces, to see them survive.
LoaderConfig marked_base() {
  LoaderConfig base = default_loader_config();
  base.elf_class = 9;
  base.machine = 999;
  base.legacy_hwcap_names = {"a", "b"};
  base.cache_flags = 0x777;
  return base;
}

TEST(ParseDiagnostics, RealX8664Output) {
  const LoaderConfig config = parse_or_fail(kRealX8664Diagnostics, marked_base());
  EXPECT_EQ(config.rtld_path, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_EQ(config.rtld_soname, "ld-linux-x86-64.so.2");
  EXPECT_EQ(config.system_dirs,
            (Strings{"/lib/x86_64-linux-gnu/", "/usr/lib/x86_64-linux-gnu/", "/lib/", "/usr/lib/"}));
  EXPECT_EQ(config.lib, "lib/x86_64-linux-gnu");
  EXPECT_EQ(config.platform, "x86_64");
  EXPECT_FALSE(config.platform_bit);
  EXPECT_EQ(config.hwcaps_subdirs, (Strings{"x86-64-v4", "x86-64-v3", "x86-64-v2"}));
  EXPECT_EQ(config.hwcap, 0x2u);
  EXPECT_EQ(config.hwcap_mask, 0x6u);
  EXPECT_EQ(config.isa_level_mask, 0xfu);
  EXPECT_EQ(config.cache_path, "/etc/ld.so.cache");
  EXPECT_EQ(config.preload_path, "/etc/ld.so.preload");
  // Not in the report: kept from the base.
  EXPECT_EQ(config.elf_class, 9);
  EXPECT_EQ(config.machine, 999);
  EXPECT_EQ(config.legacy_hwcap_names, (Strings{"a", "b"}));
  EXPECT_EQ(config.cache_flags, 0x777);
}

TEST(ParseDiagnostics, RealI386Output) {
  const LoaderConfig config = parse_or_fail(kRealI386Diagnostics, default_loader_config(1, 3));
  EXPECT_EQ(config.rtld_path, "/lib/ld-linux.so.2");
  EXPECT_EQ(config.rtld_soname, "ld-linux.so.2");
  EXPECT_EQ(config.system_dirs, (Strings{"/lib32/", "/usr/lib32/", "/lib/", "/usr/lib/"}));
  EXPECT_EQ(config.lib, "lib32");
  EXPECT_EQ(config.platform, "i686");
  EXPECT_EQ(config.platform_bit, 49u);
  EXPECT_TRUE(config.hwcaps_subdirs.empty());
  EXPECT_EQ(config.hwcap, 0x1u);
  EXPECT_EQ(config.hwcap_mask, 0x1u);
  EXPECT_EQ(config.isa_level_mask, 0xfu);
  EXPECT_EQ(config.cache_flags, 3);
  EXPECT_TRUE(config.cache_accepts_plain_elf);
  EXPECT_EQ(config.legacy_subdirs(),
            (Strings{"tls/i686/sse2/", "tls/i686/", "tls/sse2/", "tls/", "i686/sse2/", "i686/", "sse2/", ""}));
}

TEST(ParseDiagnostics, EmptyReportKeepsTheBase) {
  const LoaderConfig config = parse_or_fail("", marked_base());
  EXPECT_EQ(config.machine, 999);
  EXPECT_EQ(config.rtld_path, default_loader_config().rtld_path);
  EXPECT_EQ(config.system_dirs, default_loader_config().system_dirs);
  EXPECT_EQ(config.hwcaps_subdirs, default_loader_config().hwcaps_subdirs);
  EXPECT_EQ(config.platform, "x86_64");
}

TEST(ParseDiagnostics, NullPlatformIsUnknown) {
  const LoaderConfig config = parse_or_fail("dl_platform=0x0\n");
  EXPECT_FALSE(config.platform);
  EXPECT_EQ(config.legacy_subdirs(), (Strings{"tls/x86_64/", "tls/", "x86_64/", ""}));
}

TEST(ParseDiagnostics, StringPlatformGivesTheCachePlatformBit) {
  EXPECT_EQ(parse_or_fail("dl_string_platform=0x32\n").platform_bit, 50u);
  LoaderConfig base = default_loader_config();
  base.platform_bit = 49;
  EXPECT_FALSE(parse_or_fail("dl_string_platform=0xffffffffffffffff\n", base).platform_bit);
  EXPECT_FALSE(parse_diagnostics("dl_string_platform=0x40\n", base));
}

TEST(ParseDiagnostics, ActiveBitsSelectHwcapsNamesInListOrder) {
  EXPECT_EQ(parse_or_fail("dl_hwcaps_subdirs=\"a:b:c\"\ndl_hwcaps_subdirs_active=0x5\n").hwcaps_subdirs,
            (Strings{"a", "c"}));
  // Empty segments are skipped and take no bit (_dl_hwcaps_split).
  EXPECT_EQ(parse_or_fail("dl_hwcaps_subdirs=\"::a::b:\"\ndl_hwcaps_subdirs_active=0x2\n").hwcaps_subdirs,
            (Strings{"b"}));
  EXPECT_EQ(parse_or_fail("dl_hwcaps_subdirs=\"\"\ndl_hwcaps_subdirs_active=0x0\n").hwcaps_subdirs, Strings{});
  EXPECT_FALSE(parse_diagnostics("dl_hwcaps_subdirs=\"a:b\"\n", default_loader_config()));
  EXPECT_FALSE(parse_diagnostics("dl_hwcaps_subdirs_active=0x1\n", default_loader_config()));
}

TEST(ParseDiagnostics, SysconfdirLocatesCacheAndPreloadFile) {
  const LoaderConfig config = parse_or_fail("path.sysconfdir=\"/usr/etc\"\n");
  EXPECT_EQ(config.cache_path, "/usr/etc/ld.so.cache");
  EXPECT_EQ(config.preload_path, "/usr/etc/ld.so.preload");
}

TEST(ParseDiagnostics, SystemDirsAreTakenInIndexOrder) {
  const LoaderConfig config = parse_or_fail(
      "path.system_dirs[0x1]=\"/second/\"\npath.system_dirs[0x0]=\"/first/\"\n"
      "path.system_dirs[0xa]=\"/after-a-gap/\"\n");
  EXPECT_EQ(config.system_dirs, (Strings{"/first/", "/second/"}));
}

TEST(ParseDiagnostics, EscapedQuoteAndBackslashAreDecoded) {
  EXPECT_EQ(parse_or_fail(R"(path.rtld="/a\"b\\c")"
                          "\n")
                .rtld_path,
            "/a\"b\\c");
}

TEST(ParseDiagnostics, LossyOctalEscapeIsAnErrorOnlyWhereTheValueIsUsed) {
  // The loader prints byte 0xc3 as \773 (see print_quoted_char): it cannot be decoded.
  const auto used = parse_diagnostics(R"(path.rtld="/lib/\773\771")"
                                      "\n",
                                      default_loader_config());
  ASSERT_FALSE(used);
  EXPECT_NE(used.error().message.find("line 1"), std::string::npos) << used.error().message;
  EXPECT_TRUE(parse_diagnostics(R"(env[0x0]="X=\773")"
                                "\n",
                                default_loader_config()));
}

TEST(ParseDiagnostics, UnknownKeysAreIgnored) {
  const LoaderConfig config = parse_or_fail("future.key=\"x\"\nother.number=0x1234\ndl_hwcap=0x6\n");
  EXPECT_EQ(config.hwcap, 0x6u);
}

TEST(ParseDiagnostics, MalformedLinesAreErrorsNamingTheLine) {
  for (const char* bad :
       {"no equals sign", "=0x1", "key=", "key=12", "key=0x", "key=0xZZ", "key=0x1 trailing", "key=\"unterminated",
        "key=\"in\"side\"", "key=\"bad \\q escape\"", "key=0x10000000000000000", "key=\"\\77\""}) {
    const std::string text = "dl_hwcap=0x2\n" + std::string(bad) + "\ndl_platform=\"x\"\n";
    const auto parsed = parse_diagnostics(text, default_loader_config());
    ASSERT_FALSE(parsed) << bad;
    EXPECT_NE(parsed.error().message.find("line 2"), std::string::npos) << parsed.error().message;
    EXPECT_NE(parsed.error().message.find(bad), std::string::npos) << parsed.error().message;
  }
}

TEST(ParseDiagnostics, ValuesOfTheWrongTypeAreErrors) {
  for (const char* bad : {"dl_hwcap=\"0x2\"", "path.rtld=0x5", "dl_platform=0x5", "x86.cpu_features.isa_1=0x100000000",
                          "path.system_dirs[0x0]=0x0"}) {
    const auto parsed = parse_diagnostics(std::string(bad) + "\n", default_loader_config());
    EXPECT_FALSE(parsed) << bad;
  }
}

// ---------------------------------------------------------------------------------------------

bool have(const char* path) { return std::filesystem::exists(path); }

void expect_same_search_config(const LoaderConfig& a, const LoaderConfig& b) {
  EXPECT_EQ(a.rtld_path, b.rtld_path);
  EXPECT_EQ(a.rtld_soname, b.rtld_soname);
  EXPECT_EQ(a.system_dirs, b.system_dirs);
  EXPECT_EQ(a.lib, b.lib);
  EXPECT_EQ(a.platform, b.platform);
  EXPECT_EQ(a.platform_bit, b.platform_bit);
  EXPECT_EQ(a.hwcaps_subdirs, b.hwcaps_subdirs);
  EXPECT_EQ(a.hwcap, b.hwcap);
  EXPECT_EQ(a.hwcap_mask, b.hwcap_mask);
  EXPECT_EQ(a.isa_level_mask, b.isa_level_mask);
  EXPECT_EQ(a.cache_path, b.cache_path);
}

TEST(QueryLoader, AgreesWithTheLoadersOwnReport) {
  if (!have(kLoader64)) GTEST_SKIP() << "no " << kLoader64;
  const auto queried = query_loader(kLoader64, default_loader_config());
  ASSERT_TRUE(queried) << queried.error().message;
  const auto report = run_shell("env -i " + std::string(kLoader64) + " --list-diagnostics");
  ASSERT_EQ(report.exit_status, 0);
  expect_same_search_config(*queried, parse_or_fail(report.output));
  EXPECT_EQ(queried->rtld_path, kLoader64);
}

// Restores (or removes) an environment variable when it goes out of scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(QueryLoader, CallersTunablesDoNotLeakIntoTheLoader) {
  if (!have(kLoader64)) GTEST_SKIP() << "no " << kLoader64;
  constexpr const char* kNoAvx2 = "glibc.cpu.hwcaps=-AVX2";
  const auto clean = query_loader(kLoader64, default_loader_config());
  ASSERT_TRUE(clean) << clean.error().message;
  // First show that the tunable would change the answer here.
  const auto tuned =
      run_shell("env -i GLIBC_TUNABLES=" + std::string(kNoAvx2) + " " + kLoader64 + " --list-diagnostics");
  ASSERT_EQ(tuned.exit_status, 0);
  if (parse_or_fail(tuned.output).hwcaps_subdirs == clean->hwcaps_subdirs)
    GTEST_SKIP() << "this CPU's hwcaps do not depend on AVX2";
  const ScopedEnv tunables("GLIBC_TUNABLES", kNoAvx2);
  const ScopedEnv hwcap_mask("LD_HWCAP_MASK", "0x0");
  const auto queried = query_loader(kLoader64, default_loader_config());
  ASSERT_TRUE(queried) << queried.error().message;
  expect_same_search_config(*queried, *clean);
}

TEST(QueryLoader, FailuresNameTheLoaderAndTheReason) {
  TempDir dir;
  auto script = [&](const std::string& name, const std::string& body) {
    const std::string path = dir / name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path;
  };
  const std::string complaining = script("complains", "echo 'no such option' >&2; exit 3");
  const std::string crashing = script("crashes", "kill -SEGV $$");
  const std::string chatty = script("chatty", "echo hello world");
  const std::string missing = dir / "missing";
  const struct {
    std::string loader;
    std::vector<std::string> words;
  } cases[] = {
      {missing, {missing, "No such file"}},
      {dir.path(), {dir.path(), "Permission denied"}},
      {complaining, {complaining, "exited with status 3", "no such option"}},
      {crashing, {crashing, "signal 11"}},
      {chatty, {chatty, "line 1", "hello world"}},
  };
  for (const auto& c : cases) {
    const auto result = query_loader(c.loader, default_loader_config());
    ASSERT_FALSE(result) << c.loader;
    for (const auto& word : c.words)
      EXPECT_NE(result.error().message.find(word), std::string::npos)
          << "'" << word << "' missing from: " << result.error().message;
  }
}

// The loader's own list of what it searches in its system directories: with LD_DEBUG=libs, a
// bare name preloaded but found nowhere prints `search path=DIR/SUBDIR:...\t\t(system search path)`
// (trailing slashes dropped), and that is system_dirs × search_subdirs in the loader's order.
std::string loader_system_search_path(const std::string& loader, const std::string& program) {
  const auto run = run_shell("env -i LD_DEBUG=libs " + shell_quote(loader) +
                             " --preload libjailbuild-absent.so --list " + shell_quote(program) + " 2>&1");
  const std::string begin = "search path=";
  const std::string end = "\t\t(system search path)";
  const std::size_t stop = run.output.find(end);
  const std::size_t start = run.output.rfind(begin, stop);
  if (stop == std::string::npos || start == std::string::npos) return "(not found in)\n" + run.output;
  return run.output.substr(start + begin.size(), stop - start - begin.size());
}

std::string expected_system_search_path(const LoaderConfig& config) {
  std::string path;
  for (const std::string& dir : config.system_dirs) {
    for (const std::string& subdir : config.search_subdirs()) {
      const std::string candidate = dir + subdir;
      if (!path.empty()) path += ':';
      path += candidate.substr(0, candidate.size() - 1);
    }
  }
  return path;
}

TEST(QueryLoader, X8664SearchOrderMatchesTheLoader) {
  if (!have(kLoader64)) GTEST_SKIP() << "no " << kLoader64;
  const auto config = query_loader(kLoader64, default_loader_config());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(expected_system_search_path(*config), loader_system_search_path(kLoader64, "/bin/true"));
}

TEST(QueryLoader, I386SearchOrderMatchesTheLoader) {
  if (!have(kLoader32)) GTEST_SKIP() << "no " << kLoader32;
  const auto config = query_loader(kLoader32, default_loader_config(1, 3));
  // A kernel without IA-32 emulation cannot execute the loader: there is no oracle to ask.
  if (!config && jailbuild::testing::kernel_cannot_execute(config.error()))
    GTEST_SKIP() << "this kernel cannot run the i386 loader: " << config.error().message;
  ASSERT_TRUE(config) << config.error().message;
  const std::string libc = config->system_dirs.front() + "libc.so.6";
  if (!std::filesystem::exists(libc)) GTEST_SKIP() << "no " << libc;
  EXPECT_EQ(expected_system_search_path(*config), loader_system_search_path(kLoader32, libc));
}

}  // namespace
