/* A shared library that is not a network plugin: it exports no
 * dfs_network_evaluate. */
int dfs_network_eval(void) { return 0; }
