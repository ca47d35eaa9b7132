//! `/api/jobs`

use axum::extract::{Path, RawQuery, State};

use super::{list_route, show_route};
use crate::App;
use crate::jsonapi::ApiResult;
use crate::render::Kind;

pub async fn list(State(app): State<App>, RawQuery(query): RawQuery) -> ApiResult {
    list_route(&app, Kind::Job, query.as_deref(), |m, _| {
        m.jobs().iter().map(|j| j.id).collect()
    })
}

pub async fn show(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    show_route(&app, Kind::Job, &id, query.as_deref())
}
