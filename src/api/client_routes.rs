//! One method of the typed client per route, answering with the types
//! the server builds.

use super::{Answer, ClientError, Controllers, Repeat};
use crate::api::history::HistoryView;
use crate::api::messages::{
    AcknowledgeReply, ExecutionList, FailoverReply, Health, MaintenanceReply, UnfenceBody,
    UnfenceReply,
};
use crate::api::views::{
    AcknowledgeBody, ExecutionView, FailoverBody, MaintenanceBody, StatusView,
};

impl Controllers {
    /// `GET /v1/status` of the first member that answers.
    ///
    /// # Errors
    ///
    /// Every member failed (see [`Self::get`]).
    pub async fn status(&self) -> Result<(String, StatusView), ClientError> {
        self.get("/v1/status").await
    }

    /// `GET /v1/executions`, at most `limit` (the server's default when
    /// `None`), newest first.
    ///
    /// # Errors
    ///
    /// Every member failed (see [`Self::get`]).
    pub async fn executions(
        &self,
        limit: Option<usize>,
    ) -> Result<(String, ExecutionList), ClientError> {
        match limit {
            Some(n) => self.get(&format!("/v1/executions?limit={n}")).await,
            None => self.get("/v1/executions").await,
        }
    }

    /// `GET /v1/executions/{id}`: one execution's whole journal.
    ///
    /// # Errors
    ///
    /// Every member failed; [`FailureKind::NotFound`] when every one
    /// answered that it has no such execution.
    pub async fn execution(&self, id: &str) -> Result<(String, ExecutionView), ClientError> {
        self.get(&format!("/v1/executions/{id}")).await
    }

    /// `GET /v1/history?policy=..&limit=..`: a policy's replicated runs.
    ///
    /// # Errors
    ///
    /// Every member failed; [`FailureKind::NotFound`] when every one
    /// answered that it has no such policy.
    pub async fn history(
        &self,
        policy: &str,
        limit: usize,
    ) -> Result<(String, HistoryView), ClientError> {
        self.get(&format!("/v1/history?policy={policy}&limit={limit}"))
            .await
    }

    /// `GET /healthz`: whether a member's process answers.
    ///
    /// # Errors
    ///
    /// Every member failed (see [`Self::get`]).
    pub async fn healthz(&self) -> Result<(String, Health), ClientError> {
        self.get("/healthz").await
    }

    /// `POST /v1/failover` with the bearer `token`. A repeat is harmless:
    /// the cluster runs one execution per policy and answers a second
    /// request with the running one, so after a timeout the next member is
    /// asked too.
    ///
    /// # Errors
    ///
    /// No member took the request (see [`Self::post`]).
    pub async fn failover(
        &self,
        token: &str,
        body: &FailoverBody,
    ) -> Result<Answer<FailoverReply>, ClientError> {
        self.post("/v1/failover", token, body, Repeat::Harmless)
            .await
    }

    /// `POST /v1/reprotect` with the bearer `token`: the plan when
    /// `body.confirm` is false, else the execution. A repeat is harmless
    /// (one execution per policy), as for [`Self::failover`].
    ///
    /// # Errors
    ///
    /// No member took the request (see [`Self::post`]).
    pub async fn reprotect(
        &self,
        token: &str,
        body: &crate::api::roles::ReprotectBody,
    ) -> Result<Answer<crate::api::roles::RoleReply>, ClientError> {
        self.post("/v1/reprotect", token, body, Repeat::Harmless)
            .await
    }

    /// `POST /v1/failback` with the bearer `token`: the plan when
    /// `body.confirm` is false, else the execution. A repeat is harmless
    /// (one execution per policy), as for [`Self::failover`].
    ///
    /// # Errors
    ///
    /// No member took the request (see [`Self::post`]).
    pub async fn failback(
        &self,
        token: &str,
        body: &crate::api::roles::FailbackBody,
    ) -> Result<Answer<crate::api::roles::RoleReply>, ClientError> {
        self.post("/v1/failback", token, body, Repeat::Harmless)
            .await
    }

    /// `POST /v1/acknowledge` with the bearer `token`.
    ///
    /// # Errors
    ///
    /// No member took the request (see [`Self::post`]).
    pub async fn acknowledge(
        &self,
        token: &str,
        body: &AcknowledgeBody,
    ) -> Result<Answer<AcknowledgeReply>, ClientError> {
        self.post("/v1/acknowledge", token, body, Repeat::NeverAfterSent)
            .await
    }

    /// `POST /v1/maintenance` with the bearer `token`.
    ///
    /// # Errors
    ///
    /// No member took the request (see [`Self::post`]).
    pub async fn maintenance(
        &self,
        token: &str,
        body: &MaintenanceBody,
    ) -> Result<Answer<MaintenanceReply>, ClientError> {
        self.post("/v1/maintenance", token, body, Repeat::NeverAfterSent)
            .await
    }

    /// `POST /v1/unfence` with the bearer `token` (to the node that
    /// fenced: it is not forwarded).
    ///
    /// # Errors
    ///
    /// No member took the request (see [`Self::post`]).
    pub async fn unfence(
        &self,
        token: &str,
        body: &UnfenceBody,
    ) -> Result<Answer<UnfenceReply>, ClientError> {
        self.post("/v1/unfence", token, body, Repeat::NeverAfterSent)
            .await
    }
}
