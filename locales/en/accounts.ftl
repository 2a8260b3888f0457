# The account a person is, the app they sign in to, and returning in one
# click (consent.html, login.html). Messages are HTML: arguments are escaped.

## The picker: accounts this browser signed in with

accounts-list-label = Accounts you used in this browser
accounts-continue-as = Continue as { $handle }
accounts-forget = Forget
accounts-forget-label = Forget { $handle } in this browser
accounts-another = Use another account

## Consent: the account and the app

accounts-your-server = Your server: { $server }
accounts-client-logo = Logo of { $client }
accounts-client-about = About { $client }
accounts-client-privacy = Privacy policy
accounts-client-terms = Terms of service
