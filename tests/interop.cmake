# Interop tests against external IoT SAFE clients (label "interop"); see docs/interop-wolfssl.md.
#
# wolfSSL 5.5.4's IoT-SAFE port and its IDE/iotsafe-raspberrypi demo are fetched from Debian's
# source archive and built by the ctest fixture wolfssl_iotsafe_build (never at configure time),
# once per cache directory. The first run needs network access, and root on a clean machine
# (build tools and a deb-src entry are installed by scripts/wolfssl-iotsafe.sh).
option(ST_INTEROP_TESTS "Add the interop tests (first run downloads and builds wolfSSL)" ON)
# $ST_DEPS_DIR (set by scripts/test.sh) lets several build trees share one wolfSSL build.
if(DEFINED ENV{ST_DEPS_DIR} AND NOT "$ENV{ST_DEPS_DIR}" STREQUAL "")
  set(st_wolfssl_default "$ENV{ST_DEPS_DIR}/wolfssl-iotsafe")
else()
  set(st_wolfssl_default "${CMAKE_BINARY_DIR}/_deps/wolfssl-iotsafe")
endif()
set(ST_WOLFSSL_IOTSAFE_DIR "${st_wolfssl_default}"
    CACHE PATH "Cache directory of the wolfSSL IoT-SAFE build used by the interop tests")

if(ST_INTEROP_TESTS AND TARGET simtrust-card)
  add_test(NAME wolfssl_iotsafe_build
           COMMAND sh ${PROJECT_SOURCE_DIR}/scripts/wolfssl-iotsafe.sh
                   --out ${ST_WOLFSSL_IOTSAFE_DIR} --jobs 2)
  set_tests_properties(wolfssl_iotsafe_build PROPERTIES
                       LABELS interop TIMEOUT 1800 FIXTURES_SETUP wolfssl_iotsafe)

  # One mutual-auth handshake per TLS version (the TLS 1.2 client is the same demo source
  # compiled with its method constructor switched; see scripts/wolfssl-iotsafe.sh).
  foreach(ver 1.3 1.2)
    string(REPLACE "." "" v ${ver})
    add_test(NAME interop_wolfssl_iotsafe_tls${v}
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/interop/wolfssl_iotsafe.sh
                     --card $<TARGET_FILE:simtrust-card>
                     --wolfssl-dir ${ST_WOLFSSL_IOTSAFE_DIR} --tls ${ver})
    set_tests_properties(interop_wolfssl_iotsafe_tls${v} PROPERTIES
                         LABELS interop TIMEOUT 900 FIXTURES_REQUIRED wolfssl_iotsafe)
  endforeach()
endif()
