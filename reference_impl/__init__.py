"""A reference gateway for API key auth policies (kgateway and agentgateway dialects)."""
