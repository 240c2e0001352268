from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import skship

X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=1000).fit(X, y)
skship.dump(model, "model.skops")
assert skship.get_untrusted_types("model.skops") == []  # audits without importing
print(skship.load("model.skops").predict(X[:5]))
