# Puts the project root on sys.path so the tests import the package from the checkout.
