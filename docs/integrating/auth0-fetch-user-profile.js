function (accessToken, ctx, cb) {
  request.get(
    {
      url: 'https://YOUR-ISSUER/userinfo',
      headers: { Authorization: 'Bearer ' + accessToken },
      json: true
    },
    function (err, resp, body) {
      if (err) return cb(err);
      if (resp.statusCode !== 200) return cb(new Error('userinfo answered ' + resp.statusCode));
      if (!body || typeof body.sub !== 'string') return cb(new Error('userinfo has no sub'));
      cb(null, {
        user_id: body.sub,
        name: body.name,
        nickname: body.nickname,
        preferred_username: body.preferred_username,
        picture: body.picture,
        profile: body.profile,
        fediverse_handle: body.fediverse_handle,
        fediverse_actor_uri: body.fediverse_actor_uri
      });
    }
  );
}
