//! Every request-body reader of the API (`dstack_server::api::read_body`): the first byte
//! picks the route, the rest is the body. Nothing may panic, abort or overflow the stack.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// The routes that read a body, and two that read none.
const ROUTES: &[&str] = &[
    "/api/users/get_user",
    "/api/users/create",
    "/api/projects/list",
    "/api/projects/create",
    "/api/projects/main/add_members",
    "/api/project/main/backends/create",
    "/api/project/main/backends/update",
    "/api/project/main/backends/create_yaml",
    "/api/project/main/backends/update_yaml",
    "/api/project/main/backends/delete",
    "/api/project/main/runs/get_plan",
    "/api/project/main/gpus/list",
    "/api/users/list",
    "/api/projects/main/get",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let route = ROUTES[usize::from(pick) % ROUTES.len()];
    let _ = dstack_server::api::read_body(route, body);
});
