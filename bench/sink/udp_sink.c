/* Placeholder until the receive work lands. */
int main(void) { return 0; }
