# The pages a person sees. Messages are HTML: arguments ({ $name }) are
# escaped, the text itself is not, so write &amp; for "&" and &lt; for "<".

## Shared

sign-in-title = Sign in
continue = Continue

## The picker (login.html)

login-title = Sign in with the Fediverse
login-heading = Sign in to { $client }
login-intro = with your Fediverse account (Mastodon and compatible servers).
login-label = Your address or server
login-hint = For example <code>@you@example.social</code> or just <code>example.social</code>.
    You will sign in on your own server; we never see your password.
login-choose-server = Or choose a server:

## Consent (consent.html)

consent-title = Allow access
consent-heading = { $client } wants to know who you are
consent-signed-in-as = You are signed in as <strong>{ $handle }</strong>.
consent-will-receive = If you continue, { $client } will receive:
consent-item-identifier = a stable identifier for your account
consent-item-profile = your display name, username and address ({ $handle })
consent-item-links = links to your profile and avatar
consent-item-offline = continued access to this while you are away, until you or it revokes it
consent-no-posting = It will not be able to post, read your messages or act on your behalf.
consent-return-to = You will then be sent back to <strong>{ $host }</strong>.
consent-allow = Allow
consent-deny = Deny
consent-not-you = Not you? <a href="{ $switch }">Use another account or server</a>.

## Errors (error.html)

error-title = Something went wrong
error-restart = Choose your server again
error-go-back = Go back to the application you came from and start signing in again.
    If this keeps happening, let the application's owner know.

## Returning to the application (form_post.html)

form-post-title = Returning to { $host }
form-post-noscript = Your browser does not run scripts: press Continue to return to { $host }.

## Signing out (logout.html)

logout-title = Sign out
logout-done-heading = You are signed out
logout-done-text = You are no longer signed in at { $service } in this browser.
    Applications you signed in to may keep you signed in until you sign out there too.
logout-confirm-heading = Sign out?
logout-confirm-client = { $client } asks to sign you out of { $service } in this browser.
logout-confirm = Sign out of { $service } in this browser.
logout-signed-in-as = You are signed in as <strong>{ $handle }</strong>.
logout-button = Sign out
logout-not-asked = If you did not ask to sign out, close this page: you stay signed in.

## Our page for Misskey-family servers (client_information.html)

client-info-title = About this app
client-info-text = { $name } signs people in to other websites with their Fediverse account.
    This page tells Misskey-family servers who is asking when you sign in there.
client-info-about = About { $name }
