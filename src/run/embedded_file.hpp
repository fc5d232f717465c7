// Files built with jailbuild and carried inside its binary byte for byte (the jail's init, the
// compiled seccomp filter), so that a run reads no file of jailbuild's own and no path can be swapped.
#pragma once

// Embeds the file at PATH (a string literal, given by CMake as a compile definition; the source
// lists it in OBJECT_DEPENDS so that it is embedded again when it changes) in a read-only section
// of its own, aligned to ALIGN bytes, and declares its bytes as the array of TYPE from NAME_begin
// to NAME_end. Used at namespace scope, once per NAME.
// clang-format off
#define JAILBUILD_EMBED_FILE(TYPE, NAME, PATH, ALIGN) \
  asm(".section .rodata." #NAME ", \"a\"\n"           \
      ".balign " #ALIGN "\n"                          \
      #NAME "_begin:\n"                               \
      ".incbin \"" PATH "\"\n"                        \
      #NAME "_end:\n"                                 \
      ".previous\n");                                 \
  extern "C" const TYPE NAME##_begin[];               \
  extern "C" const TYPE NAME##_end[]
// clang-format on
