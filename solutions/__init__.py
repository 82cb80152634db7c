"""Reference solutions of the course: one module per chapter.

Every exercise's reference implementation lives here, once. The chapters import these functions,
the book shows their source, and the autograder compares students' answers with them. Functions take
everything they use as arguments (no notebook globals) and are typed and documented.

Chapter modules:

- :mod:`solutions.ch1_titanic` -- loading, cleaning, features, scaling, splits
- :mod:`solutions.ch2_gradient_descent` -- the hand-made linear model
- :mod:`solutions.ch3_sigmoid` -- sigmoid and binary cross-entropy
- :mod:`solutions.ch4_matrix` -- the matrix-product version
- :mod:`solutions.ch5_neural_net` -- one hidden layer
- :mod:`solutions.ch6_deep` -- deep networks and the baselines
- :mod:`solutions.ch7_normal_equation` -- closed form, lstsq/solve and the sourdough regression
- :mod:`solutions.ch8_modules` -- the ``torch.nn`` rewrite
"""
