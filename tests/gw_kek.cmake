# The registry's key-encryption key in a PKCS#11 token (gateway/kek_pkcs11.c),
# tested against the real SoftHSM2 in a private token directory.
if(NOT TARGET simtrust_gw)
  return()
endif()

pkg_check_modules(P11KIT_HDR REQUIRED p11-kit-1)
st_add_unit_test(test_gw_kek_pkcs11 ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_kek_pkcs11.c
                 LIBS simtrust_gw LABELS gateway)
target_include_directories(test_gw_kek_pkcs11 PRIVATE ${P11KIT_HDR_INCLUDE_DIRS})

# The same from the command line: simtrust-registry kek-init and the --pkcs11-*
# flags, simtrust-gateway --check-config with kek_pkcs11_*.
if(TARGET simtrust-registry AND TARGET simtrust-gateway)
  add_test(NAME test_gw_kek_cli
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_kek_cli.sh
                   $<TARGET_FILE:simtrust-registry> $<TARGET_FILE:simtrust-gateway>)
  set_tests_properties(test_gw_kek_cli PROPERTIES LABELS "gateway;cli" TIMEOUT 120)
endif()
