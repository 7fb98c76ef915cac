# REST API of simtrust-gateway (interface 4, server side; issue 5 item 4):
# a real libmicrohttpd server on port 0 with a SQLite registry, driven by
# libcurl; no mocks.
if(NOT TARGET simtrust_gw)
  return()
endif()
pkg_check_modules(CURL IMPORTED_TARGET libcurl)
if(NOT CURL_FOUND)
  message(STATUS "libcurl not found: REST API tests skipped")
  return()
endif()

add_library(gw_api_test_support STATIC ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_api_support.c)
target_link_libraries(gw_api_test_support PUBLIC simtrust_gw PkgConfig::CURL)
target_include_directories(gw_api_test_support PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/gateway)

foreach(t crud concurrency ca tls unit)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_api_${t}.c)
    st_add_unit_test(test_gw_api_${t} ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_api_${t}.c
                     LIBS gw_api_test_support LABELS gateway)
    target_compile_definitions(test_gw_api_${t} PRIVATE ST_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  endif()
endforeach()

# The OpenAPI document validates as OpenAPI 3.0 (when the validator is installed).
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_FOUND)
  execute_process(COMMAND ${Python3_EXECUTABLE} -c "import openapi_spec_validator"
                  RESULT_VARIABLE ST_OPENAPI_VALIDATOR OUTPUT_QUIET ERROR_QUIET)
  if(ST_OPENAPI_VALIDATOR EQUAL 0)
    add_test(NAME test_gw_api_openapi_valid
             COMMAND ${Python3_EXECUTABLE} -c
                     "import sys; from openapi_spec_validator import validate_spec; from openapi_spec_validator.readers import read_from_filename; validate_spec(read_from_filename(sys.argv[1])[0])"
                     ${CMAKE_SOURCE_DIR}/docs/openapi/gateway-api.yaml)
    set_tests_properties(test_gw_api_openapi_valid PROPERTIES LABELS "gateway" TIMEOUT 60)
  endif()
endif()
