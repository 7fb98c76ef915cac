# simtrust OpenSSL provider (provider/, docs/provider.md), label "provider":
# `openssl s_client -provider simtrust` with the card key against openssl s_server
# (TLS 1.3, TLS 1.2, DTLS 1.2, -Verify 1), gnutls-serv (TLS 1.3), curl through the config
# file, over TCP and the AT modem; the APDU budget (issue 4 item 7), negative tests and the
# private-key scan of the APDU trace and TLS key log (tests/provider/prov_tls.sh).
# The system openssl/curl binaries dlopen simtrust.so: not in the sanitizer build (an
# uninstrumented program cannot load an ASan module), so these tests are not registered there.

# PSK mode (docs/provider.md "PSK mode"; scenarios 3-5): tests/provider/psk_client.c has the
# provider built in (simtrust_prov, OSSL_PROVIDER_add_builtin), so these run in the sanitizer
# build too; the servers are the system openssl s_server and gnutls-serv.
if(TARGET simtrust_prov AND TARGET simtrust-card)
  add_executable(psk_client ${CMAKE_CURRENT_SOURCE_DIR}/provider/psk_client.c)
  target_link_libraries(psk_client PRIVATE simtrust_prov OpenSSL::SSL OpenSSL::Crypto)
  find_program(ST_OPENSSL_BIN openssl)
  if(ST_OPENSSL_BIN)
    foreach(case kat tls12-psk tls12-ecdhe-psk tls12-ecdhe-psk-cbc tls13 dtls12 gnutls13
            neg-identity neg-label neg-cipher scan)
      add_test(NAME prov_psk_${case}
               COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/provider/prov_psk.sh
                       $<TARGET_FILE:simtrust-card> $<TARGET_FILE:psk_client> ${case})
      set_tests_properties(prov_psk_${case} PROPERTIES LABELS provider TIMEOUT 120
                           SKIP_RETURN_CODE 77)
    endforeach()
  endif()
endif()

if(NOT TARGET simtrust_provider OR NOT TARGET simtrust-card OR ST_SANITIZE)
  return()
endif()
find_program(ST_OPENSSL_BIN openssl)
if(NOT ST_OPENSSL_BIN)
  return()
endif()
foreach(case tls13 tls13-at tls12 dtls12 gnutls13 curl apdus neg-ca neg-expired neg-name
        neg-card-error neg-card-removed scan)
  add_test(NAME prov_${case}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/provider/prov_tls.sh
                   $<TARGET_FILE:simtrust-card> $<TARGET_FILE_DIR:simtrust_provider> ${case})
  set_tests_properties(prov_${case} PROPERTIES LABELS provider TIMEOUT 120 SKIP_RETURN_CODE 77)
endforeach()
