# The commit `bayescim --version` names: read at configure time, "unknown" without git or .git.
# Reconfigures when HEAD or its branch moves (a commit), so the build names the commit it was
# built from (uncommitted edits are not flagged). Never written into report.json or the goldens.
set(BAYESCIM_GIT_COMMIT "unknown")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/.git")
  execute_process(COMMAND "${GIT_EXECUTABLE}" rev-parse --short=12 HEAD
    WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" RESULT_VARIABLE _git_rc
    OUTPUT_VARIABLE _git_commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(_git_rc EQUAL 0 AND _git_commit)
    set(BAYESCIM_GIT_COMMIT "${_git_commit}")
    execute_process(COMMAND "${GIT_EXECUTABLE}" symbolic-ref -q HEAD
      WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" OUTPUT_VARIABLE _git_branch
      OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    set(_git_refs --git-path HEAD --git-path packed-refs)
    if(_git_branch)
      list(APPEND _git_refs --git-path "${_git_branch}")
    endif()
    execute_process(COMMAND "${GIT_EXECUTABLE}" rev-parse --path-format=absolute ${_git_refs}
      WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" OUTPUT_VARIABLE _git_paths
      OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    string(REPLACE "\n" ";" _git_paths "${_git_paths}")
    foreach(_p IN LISTS _git_paths)
      if(EXISTS "${_p}")
        set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_p}")
      endif()
    endforeach()
  endif()
endif()
configure_file("${CMAKE_CURRENT_SOURCE_DIR}/sim/version.h.in"
               "${CMAKE_CURRENT_BINARY_DIR}/generated/bayescim_version.h" @ONLY)
