"""The MCP server for AI research agents (`metaprogram mcp`): the top layer, above engine, database and util."""
