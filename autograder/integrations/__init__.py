"""The kit inside other graders: an nbgrader course whose grades come from the kit's isolated grader,
and a Gradescope autograder bundle."""
