# simtrust-gateway foundations (issue 5): batch-derived PSKs (IoT.04 scenario 5),
# PROXY protocol v2, the device registry (SQLite) and the delivery import.
if(NOT TARGET simtrust_gw)
  return()
endif()

st_add_unit_test(test_gw_batch_psk ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_batch_psk.c
                 LIBS simtrust_gw LABELS gateway)
st_add_unit_test(test_gw_proxy_v2 ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_proxy_v2.c
                 LIBS simtrust_gw LABELS gateway)
st_add_unit_test(test_gw_registry ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_registry.c
                 LIBS simtrust_gw LABELS gateway)
st_add_unit_test(test_gw_psk_resolve ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_psk_resolve.c
                 LIBS simtrust_gw LABELS gateway)
st_add_unit_test(test_gw_import ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_import.c
                 LIBS simtrust_gw LABELS gateway)

if(TARGET simtrust-registry)
  add_test(NAME test_gw_registry_cli
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_registry_cli.sh
                   $<TARGET_FILE:simtrust-registry>)
  set_tests_properties(test_gw_registry_cli PROPERTIES LABELS "gateway;cli" TIMEOUT 120)
endif()

# Correctness run of the registry benchmark with a tiny N; the full run
# (1,000,000 devices) is manual: bench/registry_bench --devices 1000000.
if(TARGET registry_bench)
  add_test(NAME bench_gw_registry_smoke COMMAND registry_bench --devices 2000 --lookups 2000)
  set_tests_properties(bench_gw_registry_smoke PROPERTIES LABELS "gateway;bench-smoke" TIMEOUT 300)
endif()
